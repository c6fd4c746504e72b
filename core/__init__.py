"""Code every app may use: the bottom layer, importing no app of Tenure."""
