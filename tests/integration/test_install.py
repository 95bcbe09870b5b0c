"""`make install` (issue 2): honours PREFIX and DESTDIR and installs the binary,
a commented example gannet.conf, a systemd unit and a man page."""

import os
import subprocess
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class InstallTest(unittest.TestCase):
    def test_install_into_destdir(self):
        with tempfile.TemporaryDirectory(prefix="gannet-install-") as dest:
            r = subprocess.run(["make", "-s", "-C", REPO, "install", f"DESTDIR={dest}",
                                "PREFIX=/opt/gannet"], capture_output=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            binary = os.path.join(dest, "opt/gannet/bin/gannet")
            self.assertTrue(os.access(binary, os.X_OK))
            conf = os.path.join(dest, "etc/gannet/gannet.conf")
            self.assertTrue(os.path.exists(conf))
            self.assertTrue(os.path.exists(conf + ".example"))
            with open(os.path.join(dest, "opt/gannet/share/man/man1/gannet.1")) as f:
                self.assertIn(".TH GANNET 1", f.read().upper())
            with open(os.path.join(dest, "opt/gannet/lib/systemd/system/gannet.service")) as f:
                unit = f.read()
            self.assertIn("ExecStart=/opt/gannet/bin/gannet serve -c /etc/gannet/gannet.conf -F",
                          unit)
            self.assertNotIn("@", unit.replace("@.", ""))
            # the installed example is a valid configuration
            r = subprocess.run([binary, "config", "check", "-c", conf], capture_output=True)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            # a second install keeps the administrator's gannet.conf
            with open(conf, "a") as f:
                f.write("# edited by the administrator\n")
            r = subprocess.run(["make", "-s", "-C", REPO, "install", f"DESTDIR={dest}",
                                "PREFIX=/opt/gannet"], capture_output=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            with open(conf) as f:
                self.assertIn("# edited by the administrator", f.read())


if __name__ == "__main__":
    unittest.main()
