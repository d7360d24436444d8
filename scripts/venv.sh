#!/usr/bin/env bash
# Create the virtual environment (installing Debian's python3-venv first if it is missing and we
# are root) and install the project into it, editable, with the given extras.
# Usage: scripts/venv.sh VENV_DIR PIP_TARGET
set -euo pipefail
venv=$1 target=$2
python=${PYTHON:-python3}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "Synnefo needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    if ! "$python" -m venv "$venv" 2>/dev/null; then
        rm -rf "$venv"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "Installing python3-venv (Debian package) ..."
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            "$python" -m venv "$venv"
        else
            echo "Cannot create a virtual environment: install python3-venv (e.g. apt-get install python3-venv)" >&2
            exit 1
        fi
    fi
fi
case "$target" in
    *ldap*|*test*)
        # python-ldap (the ldap and test extras) compiles against OpenLDAP's and Cyrus SASL's headers.
        if [ ! -e /usr/include/ldap.h ] || [ ! -e /usr/include/sasl/sasl.h ]; then
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                echo "Installing libldap2-dev, libsasl2-dev (Debian packages, for python-ldap) ..."
                export DEBIAN_FRONTEND=noninteractive
                apt-get install -y -qq libldap2-dev libsasl2-dev gcc >/dev/null \
                    || { apt-get update -qq && apt-get install -y -qq libldap2-dev libsasl2-dev gcc >/dev/null; }
            else
                echo "python-ldap needs libldap2-dev and libsasl2-dev (apt-get install, as root)" >&2
            fi
        fi
        ;;
esac
echo "Installing Synnefo ($target) into $venv ..."
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$target" 2>&1 | grep -v '^WARNING: Location' || true
"$venv/bin/python" -c 'import synnefo, django'  # fail here, not later, if the install failed
