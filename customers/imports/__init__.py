"""CSV import of accounts, contacts and revenue history: parsing (the file and one row),
services (upload and confirm, what a user does) and steps (check and apply, what workers run)."""
