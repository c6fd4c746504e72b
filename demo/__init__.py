"""Demo data: a deterministic SaaS company's book of business for ``make run`` and the
benchmarks (``manage.py seed_demo``, ``manage.py ensure_demo_admin``).

It depends on the domain apps (accounts, customers, surveys, …); they never import it.
"""
