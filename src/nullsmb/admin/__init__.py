"""Server Manager: the admin JSON API and dashboard (``app``), the snapshots they show
(``snapshot``) and ``nullsmb sessions`` (``cli``). Importing this package imports no aiohttp."""
