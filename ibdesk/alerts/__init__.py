"""Alerts: what a trader away from the screen must know (fills, rejects, halts, disconnects),
sent to the desktop, as a sound, and to a phone.

Qt-free and client-library-free: :mod:`.watch` listens to the desk's stores and the kill
switch and turns their events into :class:`~.kinds.Alert` s; :mod:`.hub` routes each alert to
its channels, grouped and rate-limited per channel; :mod:`.push` sends to phones through
apprise on a thread of its own; :mod:`.sound` plays the packaged sounds through the platform's
player. The window's tray notifications, the beep fallback and the test dialog are thin Qt
parts in ``ibdesk.ui.alerts``. :mod:`.desk` puts it together for a running desk.

Nothing here is on the order path: an alert is appended to a list on the event loop, and
everything slow (a push service, a sound player) happens on other threads or processes.
"""
