#!/bin/sh
# Entry point of the mautrix-msn container image.
#
# First start: writes an example config to $DATA/config.yaml and exits so the
# admin can edit it. Second start: generates the appservice registration
# ($DATA/registration.yaml) for the homeserver and exits. Later starts: runs
# the bridge. Extra arguments are passed to the bridge.
set -eu

BINARY="${MAUTRIX_MSN_BINARY:-/usr/bin/mautrix-msn}"
DATA="${MAUTRIX_MSN_DATA:-/data}"
CONFIG="$DATA/config.yaml"
REGISTRATION="$DATA/registration.yaml"

if [ ! -d "$DATA" ] || [ ! -w "$DATA" ]; then
	echo "The data directory $DATA does not exist or is not writable by uid $(id -u)." >&2
	echo "Mount a volume there that this user can write (e.g. chown $(id -u):$(id -g) on the host)." >&2
	exit 1
fi
cd "$DATA"

if [ ! -f "$CONFIG" ]; then
	"$BINARY" -c "$CONFIG" -e
	echo "Didn't find a config file."
	echo "Wrote an example config to $CONFIG."
	echo "Edit it (at least homeserver.address, homeserver.domain, appservice.address,"
	echo "database and bridge.permissions; see docs/configuration.md), then start the"
	echo "container again to generate the appservice registration."
	exit 0
fi

if [ ! -f "$REGISTRATION" ]; then
	"$BINARY" -c "$CONFIG" -g -r "$REGISTRATION"
	echo "Didn't find a registration file."
	echo "Generated $REGISTRATION (and saved its tokens into $CONFIG)."
	echo "Add it to your homeserver's app_service_config_files, restart the homeserver,"
	echo "then start this container again to run the bridge."
	exit 0
fi

exec "$BINARY" -c "$CONFIG" -r "$REGISTRATION" "$@"
