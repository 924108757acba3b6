"""The probe's steps, one module each: ``transport`` (1), ``sessions`` (2), ``shares`` (3),
``pipes`` (4), ``rpc`` (5); ``common`` holds the Outcome conversion and the per-principal link.

Rules:
1. A step records an Outcome for everything it tries and never raises for anything a server
   does (common.attempt is the one conversion point).
2. Steps append their evidence to lists they are given, so a host deadline keeps what is done.
"""
