"""A CI-sized subset of Samba's smbtorture against a real nullsmb (issue 3; the full side-by-side
run is conformance/smbtorture.sh).

Every subtest listed here passes today; the test fails when one stops passing, so conformance
cannot silently regress. smbtorture comes from Debian's samba-testsuite (.ci/run installs it); a
missing smbtorture is a failure, never a skip.

Rules:
1. One smbtorture process per suite, with the chosen subtests by full name, a time limit
   (``--maximum-runtime``) and a subprocess timeout a little above it.
2. Results are read from smbtorture's subunit stream: a subtest counts as passing only on its
   ``success:`` line.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

SMBTORTURE = shutil.which("smbtorture")
RESULT = re.compile(r"^(success|failure|error|skip|xfail):\s*(.*?)\s*(?:\[.*)?$")

# suite -> subtests that pass against nullsmb today (a few minutes in all)
PASSING: dict[str, list[str]] = {
    "smb2.connect": ["connect"],
    "smb2.read": ["eof", "position", "dir", "access"],
    "smb2.rw": ["rw1", "rw2", "invalid"],
    "smb2.lock": [
        "valid-request", "rw-shared", "rw-exclusive", "auto-unlock", "lock", "async", "cancel",
        "cancel-tdis", "cancel-logoff", "errorcode", "zerobytelength", "zerobyteread", "unlock",
        "multiple-unlock", "stacking", "contend", "context", "range", "overlap", "truncate",
        "replay_smb3_specification_durable",
    ],
    "smb2.oplock": [
        "exclusive1", "exclusive2", "exclusive4", "exclusive5", "exclusive6", "batch1", "batch2",
        "batch6", "batch7", "batch9", "batch11", "batch19", "batch20", "brl1", "levelii500",
        "statopen1",
    ],
    "smb2.lease": ["break_twice", "nobreakself", "upgrade", "break", "oplock", "breaking1",
                   "breaking3", "v2_breaking3", "v2_complex1", "v2_rename", "v2_epoch1",
                   "duplicate_open"],
    "smb2.notify": ["tdis", "close", "logoff", "basedir", "file", "overflow",
                    "rmdir1", "rmdir2", "handle-permissions"],
    "smb2.ioctl": [
        "req_resume_key", "copy_chunk_simple", "copy_chunk_limits", "copy_chunk_src_lock",
        "copy_chunk_bad_key", "copy_chunk_bad_access", "copy_chunk_src_exceed",
        "copy_chunk_across_shares", "compress_notsup_get", "compress_notsup_set",
        "sparse_file_flag", "sparse_dir_flag", "sparse_qar", "sparse_qar_malformed", "sparse_punch",
    ],
    "smb2.durable-open": ["open-oplock", "open-lease", "reopen1", "reopen1a", "reopen2",
                          "reopen2-lease", "reopen4", "delete_on_close1", "file-position",
                          "oplock", "lease", "lock-oplock", "alloc-size", "read-only"],
    "smb2.session": ["reconnect1", "reauth1", "reauth3", "reauth4", "reauth6",
                     "bind_negative_smb202", "bind_negative_smb3to3s", "bind_negative_smb3signGtoCs",
                     "two_logoff", "signing-hmac-sha-256", "signing-aes-128-gmac",
                     "encryption-aes-128-gcm"],
    "smb2.compound": ["related1", "related2", "related3", "related5", "related6", "related8",
                      "related9", "unrelated1", "invalid1", "invalid3", "interim1", "interim2",
                      "create-write-close"],
    "smb2.create": ["open", "brlocked", "multi", "delete", "leading-slash", "impersonation",
                    "mkdir-dup", "dir-alloc-size", "dosattr_tmp_dir"],
    "smb2.dir": ["find", "fixed", "one", "many", "modify", "sorted"],
    "smb2.getinfo": ["fsinfo", "qfs_buffercheck", "qfile_buffercheck", "qsec_buffercheck",
                     "granted", "getinfo_access"],
    "smb2.rename": ["simple", "simple_nodelete", "no_sharing", "share_delete_and_delete_access",
                    "no_share_delete_but_delete_access", "share_delete_no_delete_access",
                    "no_share_delete_no_delete_access", "msword", "rename_dir_openfile",
                    "close-full-information"],
    "smb2.delete-on-close-perms": ["OVERWRITE_IF", "CREATE", "CREATE Existing", "CREATE_IF",
                                   "FIND_and_set_DOC", "READONLY", "BUG14427"],
    "smb2.credits": ["session_setup_credits_granted", "single_req_credits_granted",
                     "skipped_mid"],
    "smb2.tcon": ["tcon"],
    "smb2.mkdir": ["mkdir"],
}
RUNTIME = 240  # seconds, per suite


def _results(output: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in output.splitlines():
        m = RESULT.match(line)
        if m:
            out[m.group(2)] = m.group(1)
    return out


@pytest.mark.timeout(RUNTIME + 60)
@pytest.mark.parametrize("suite", sorted(PASSING))
def test_subtests_keep_passing(suite: str, torture_server) -> None:
    if SMBTORTURE is None:
        pytest.fail("smbtorture is not installed (apt-get install samba-testsuite; .ci/run does it)")
    host, port, _work = torture_server
    names = [f"{suite}.{name}" for name in PASSING[suite]]
    proc = subprocess.run(
        [SMBTORTURE, f"//{host}/public", "-p", str(port), "-U", "alice%Passw0rd!",
         "--format=subunit", f"--maximum-runtime={RUNTIME}", *names],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=RUNTIME + 30,
    )
    results = _results(proc.stdout)
    broken = {n: results.get(n, "missing") for n in PASSING[suite] if results.get(n) != "success"}
    assert not broken, f"{suite}: {broken}\n--- smbtorture output (tail) ---\n{proc.stdout[-6000:]}"
