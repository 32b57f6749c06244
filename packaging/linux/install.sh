#!/usr/bin/env bash
# Install the ibdesk bundle for one user (or under any prefix): the application folder, a
# command on PATH, the desktop entry and the icon.
#
#   ./install.sh                      # from inside the bundle folder: installs under ~/.local
#   ./install.sh --prefix /opt/local  # elsewhere (may need sudo)
#   ./install.sh --uninstall          # take it all away again
#   packaging/linux/install.sh dist/ibdesk   # from a source checkout, naming the bundle
#
# What goes where (prefix ~/.local):
#   ~/.local/lib/ibdesk/                               the bundle (replaced on reinstall)
#   ~/.local/bin/ibdesk                                a link to its executable
#   ~/.local/share/applications/ibdesk.desktop         the entry, Exec= the absolute path
#   ~/.local/share/icons/hicolor/scalable/apps/ibdesk.svg
set -euo pipefail

prefix="$HOME/.local"
uninstall=0
bundle=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) bundle="$1"; shift ;;
    esac
done

app_dir="$prefix/lib/ibdesk"
bin_link="$prefix/bin/ibdesk"
entry="$prefix/share/applications/ibdesk.desktop"
icon="$prefix/share/icons/hicolor/scalable/apps/ibdesk.svg"

refresh_caches() {  # desktops pick the entry up sooner; harmless where the tools are missing
    command -v update-desktop-database >/dev/null 2>&1 &&
        update-desktop-database -q "$prefix/share/applications" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 &&
        gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" 2>/dev/null || true
}

if [ "$uninstall" = 1 ]; then
    rm -rf "$app_dir"
    rm -f "$entry" "$icon"
    [ -L "$bin_link" ] && rm -f "$bin_link"
    refresh_caches
    echo "ibdesk removed from $prefix (your config, journal and logs are kept)"
    exit 0
fi

if [ -z "$bundle" ]; then
    bundle="$(cd "$(dirname "$0")" && pwd)"  # the script ships inside the bundle folder
fi
bundle="$(cd "$bundle" && pwd)"
resources="$bundle/_internal/ibdesk/resources"
if [ ! -x "$bundle/ibdesk" ] || [ ! -f "$resources/ibdesk.desktop" ]; then
    echo "install.sh: $bundle is not an ibdesk bundle (no ibdesk executable and resources);" \
         "name the folder packaging/build.py made, e.g. dist/ibdesk" >&2
    exit 2
fi

if [ "$bundle" != "$app_dir" ]; then
    rm -rf "$app_dir.new"
    mkdir -p "$(dirname "$app_dir")"
    cp -a "$bundle" "$app_dir.new"
    rm -rf "$app_dir"
    mv "$app_dir.new" "$app_dir"
fi
mkdir -p "$(dirname "$bin_link")" "$(dirname "$entry")" "$(dirname "$icon")"
ln -sfn "$app_dir/ibdesk" "$bin_link"
install -m 644 "$resources/ibdesk.svg" "$icon"
# The entry runs the installed executable wherever it is, whether or not ~/.local/bin is on
# the PATH of the desktop session (a desktop entry quotes arguments with double quotes).
exec_line="Exec=\"$app_dir/ibdesk\""
sed "s|^Exec=.*|$exec_line|" "$resources/ibdesk.desktop" > "$entry.tmp"
chmod 644 "$entry.tmp"
mv "$entry.tmp" "$entry"
refresh_caches
echo "ibdesk installed in $app_dir"
echo "  command:       $bin_link"
echo "  desktop entry: $entry"
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "  note: $prefix/bin is not on your PATH; the desktop entry works regardless" ;;
esac
