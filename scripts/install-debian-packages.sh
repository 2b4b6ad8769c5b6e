#!/bin/sh
# Install the Debian packages the toolkit needs: the lab's daemons (Knot DNS; the validating
# resolvers Unbound, BIND 9, Knot Resolver, PowerDNS Recursor; iproute2 to give named its
# loopback address), Pango and fonts for WeasyPrint (DejaVu Sans and Mono with their bold and
# oblique faces: the reports' one font set), poppler-utils for reading PDFs back, openssl (run
# signatures checked by hand, RFC 3161 timestamps). Safe to
# re-run: it installs only what is missing. Daemons are never started by the packages
# (policy-rc.d denies bind9's init script; knot-resolver only try-restarts, pdns-recursor ships
# systemd units only): the lab starts its own, on its own addresses, and stops them by PID.
set -eu

PACKAGES="knot knot-dnsutils unbound bind9 knot-resolver pdns-recursor iproute2 bind9-dnsutils \
poppler-utils fonts-dejavu-core fonts-dejavu-extra \
libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 python3-venv chromium openssl"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-debian-packages: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi

echo "installing Debian packages:$missing"
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    created_policy=1
fi
cleanup() {
    if [ -n "$created_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
