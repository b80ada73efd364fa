"""The fault suite of eo (see the README): real servers, processes and mounts that fail on purpose."""
