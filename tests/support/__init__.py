"""Test support shared across test packages: reference servers started the way users run them.

``refsamba``: a reference Samba smbd on a free loopback port (``running_samba``).
``impacketsmb``: impacket's SimpleSMBServer (it offers SMB1) in a subprocess.
"""
