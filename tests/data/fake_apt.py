"""A fake `apt-get` and a real `.deb` for the Debian fetcher's tests (no network).

The fake logs each sub-command to ``$FAKE_LOG``. ``update`` takes the
private lists' lock as the real one does (status 100, "Could not get lock",
while another holds it), waits ``$FAKE_UPDATE_SECONDS`` and writes a package
list; ``download PACKAGE`` copies ``$FAKE_DEB`` (unset: status 100, as for an
unknown package).
"""

import subprocess
import textwrap

FAKE_APT_GET = textwrap.dedent(
    """\
    #!/bin/sh
    lists=""
    last=""
    for arg in "$@"; do
        case "$arg" in Dir::State::Lists=*) lists="${arg#Dir::State::Lists=}";; esac
        last="$arg"
    done
    for arg in "$@"; do
        case "$arg" in
            update)
                if command -v flock > /dev/null; then
                    exec 9>"$lists/lock"
                    if ! flock -n 9; then
                        echo "E: Could not get lock $lists/lock" >&2
                        exit 100
                    fi
                fi
                echo update >> "$FAKE_LOG"
                sleep "${FAKE_UPDATE_SECONDS:-0}"
                touch "$lists/fake_dists_main_binary-amd64_Packages"
                exit 0;;
            download)
                echo "download $last" >> "$FAKE_LOG"
                if [ -z "$FAKE_DEB" ]; then
                    echo "E: Unable to locate package $last" >&2
                    exit 100
                fi
                cp "$FAKE_DEB" "./${last}_1.0_all.deb"
                exit 0;;
        esac
    done
    exit 1
    """
)


def install_fake_apt_get(bin_dir):
    """Write the fake as ``bin_dir/apt-get``; return its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    apt_get = bin_dir / "apt-get"
    apt_get.write_text(FAKE_APT_GET)
    apt_get.chmod(0o755)
    return apt_get


def build_deb(folder, files, package="zoo-test-pkg"):
    """Build ``folder/PACKAGE.deb`` holding ``files`` (path under / -> bytes)."""
    root = folder / "pkgroot"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: Zoo <zoo@example.org>\nDescription: test package\n"
    )
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    deb = folder / f"{package}.deb"
    subprocess.run(
        ["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb
