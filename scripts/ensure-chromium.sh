#!/usr/bin/env bash
# Make headless Chromium available for the app's browser test
# (app/tests/test_swagger_browser.py).
exec "$(dirname "$0")/ensure-deb.sh" chromium chromium chromium-browser
