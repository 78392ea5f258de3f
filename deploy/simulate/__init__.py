"""A heating season in a box: a seeded, reproducible scenario driven through the three services' public APIs.

``python -m deploy.simulate --help``. The pure parts (``district``, ``plan``, ``fates``) have no I/O; ``run``
drives the services, ``reconcile`` checks that every accepted report is accounted for, ``render`` prints.
"""
