#!/usr/bin/env bash
# Install the Debian tools the tests use (age, exiftool, ffmpeg, openssl, npm, chromium,
# minisign, ssh-keygen) when missing.
# Needs root or sudo; does nothing when everything is already there.
set -euo pipefail

missing=()
command -v age >/dev/null 2>&1 || missing+=(age)
command -v exiftool >/dev/null 2>&1 || missing+=(libimage-exiftool-perl)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # RFC 3161 timestamp tests
command -v npm >/dev/null 2>&1 || missing+=(npm)  # fetches the age test vectors (cctv-age)
# the web app's browser tests (Playwright drives Debian's build, never its own download)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# readers verify published posts with stock tools: minisign -V and ssh-keygen -Y verify
command -v minisign >/dev/null 2>&1 || missing+=(minisign)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
