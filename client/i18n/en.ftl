# The chat's words in English. Each line is `key = text`; `{ $name }`
# is filled in by the page; `{ $count -> [one] … *[other] … }` picks a
# form by the number. Keys are the same in every language's file (the
# build fails otherwise). Fluent's syntax: https://projectfluent.org

-product = Chat

## The language menu: each language's name as its readers write it.

language-en = English
language-zh-cn = 中文
language-menu = Language

## Moderation

purge-count = { $count ->
    [1] Remove the one message of { $target } in #{ $room }? This cannot be undone.
   *[other] Remove all { $count } messages of { $target } in #{ $room }? This cannot be undone.
}

## The name's menu

your-name = Your name
current-password = Current password
keep-name-hint = Keep this name: with a password, nobody else can use it.
new-password = New password (8 to 128 characters)
change-password = Change password
keep-name = Keep this name
password-changed = Password changed: your other sessions are signed out.
name-kept = This name is yours now.
sign-out = Sign out

## API tokens (in the name's menu)

api-tokens = API tokens
token-name = Name (what the script is)
create-token = Create an API token
no-tokens = No tokens.
new-token = Your new token, shown this once:
copy = Copy
copied = Copied.
revoke = Revoke
revoke-token = Revoke { $name }
revoked = Revoked.
no-token-name = (no name)
# $time: a date or a time, as the reader's locale writes it.
until = until { $time }
until-revoked = until revoked

## The login page

product = { -product }
pick-name = Pick a name to join the room.
pick-name-for = Pick a name to join #{ $room }.
password = Password
password-hint = Only for a name someone claimed; guests leave it empty.
enter = Enter
username-rule = 1 to { NUMBER($max) } characters.

## What the page and the server refuse

username-empty = Choose a username.
username-too-long = A username has at most { NUMBER($max) } characters.
username-forbidden = A username cannot contain control or invisible formatting characters.
username-invisible = A username needs at least one visible character.
room-empty = Choose a room name: 1 to { NUMBER($max) } letters, digits, '-' or '_'.
room-too-long = A room name has at most { NUMBER($max) } characters: letters, digits, '-' or '_'.
room-forbidden = A room name has only letters, digits, '-' and '_' (no spaces), 1 to { NUMBER($max) } of them.
room-mixed-scripts = A room name does not mix Latin letters with Cyrillic or Greek ones: they look alike.
refused-frame = The server could not read what this page sent. Reload the page.
refused-empty-message = A message cannot be empty.
message-too-long = A message has at most { NUMBER($max) } characters.
refused-invalid-message = A message cannot contain control characters other than newline and tab.
refused-storage = The message could not be stored; try again.
refused-shutting-down = The server is restarting; your message goes out when it is back.
refused-username-taken = Someone else is using this name right now.
refused-rate-limited = Too many at once; wait a moment and try again.
rate-limited-for = Too many attempts; try again in { NUMBER($seconds) } s.
refused-not-in-room = You are not in this room.
refused-too-many-rooms = You are in as many rooms as you may be: leave one first.
refused-room-limit = The server holds as many rooms as it may; join an existing one.
refused-not-found = That message is not in this room any more.
refused-not-yours = Only its author can change that message.
refused-invalid-emoji = A reaction is one emoji.
refused-too-many-reactions = That message has as many different reactions as it may.
refused-message-deleted = That message was deleted.
refused-name-claimed = This name is claimed: enter its password.
refused-wrong-password = That is not this name's password.
refused-invalid-password = A password has 8 to 128 characters.
refused-not-signed-in = You are signed out: sign in again.
refused-forbidden-origin = Refused: the request came from another site.
refused-muted = You are muted in this room.
refused-banned = You are banned.
refused-room-locked = This room is locked: only moderators post.
refused-not-allowed = Only a moderator can do that.
refused-invalid-query = This search cannot be read.
refused-client-id-reused = This message was already sent with other words.
refused-too-many-tokens = This name has as many tokens as it may: revoke one first.
unreachable = The server cannot be reached; try again.
server-answered = The server answered { NUMBER($status) }.
purge-all = Remove every message of { $target } in #{ $room }? This cannot be undone.
# $how-long: for-good or for-minutes.
confirm-ban = Ban { $target } from every room { $how-long }?
confirm-ban-address = Ban guests from { $target }'s address { $how-long }? Everyone there who is a guest is shut out.
for-good = for good
for-minutes = for { NUMBER($minutes) } min
lift = Lift
lift-for = Lift: { $name }
muted-in = Muted in #{ $room }
nobody = Nobody.
banned = Banned
recent-actions = Recent actions
moderation = Moderation
covers-name = name
covers-browser = browser
covers-address = address
# A line of the moderation menu's recent actions.
audit-line = { $time }: { $line }
moderate-room = Moderate #{ $room }
lock-room = Lock the room
unlock-room = Unlock the room
mod-name = Name
mod-action = Action
choose-action = Choose an action…
mod-minutes = For how many minutes (empty: for good)
mod-reason = Reason, for them
apply = Apply
act-mute = Mute
act-unmute = Unmute
act-kick = Kick
act-ban = Ban (the name, and a guest's browser)
act-unban = Lift a ban
act-purge = Remove all their messages here
act-ban-address = Ban guests from their address (for the minutes given)
act-grant = Make moderator of this room
act-revoke = Take back moderation of this room
act-grant-all = Make moderator of every room
act-revoke-all = Take back moderation of every room

## What a moderator did, as the room reads it ($by: the moderator)

did-delete = { $by } deleted a message
did-pin = { $by } pinned a message
did-unpin = { $by } unpinned a message
did-mute-you = { $by } muted you here for now
did-mute = { $by } muted { $target }
did-unmute-you = { $by } let you post here again
did-unmute = { $by } unmuted { $target }
did-kick = { $by } removed { $target }
did-ban = { $by } banned { $target }
did-ban-address = { $by } removed { $target } and banned guests from their address
did-unban = { $by } lifted the ban of { $target }
did-purge = { $by } removed the messages of { $target }
did-lock = { $by } locked the room: only moderators post
did-unlock = { $by } unlocked the room
did-grant = { $by } made { $target } a moderator
did-revoke = { $by } took { $target }'s moderation back
with-reason = { $text }: { $reason }

## The message list

first-unread = ↑ First unread
messages = Messages
list-keys = Up and Down move between messages, Right and Left through a message's links and actions, Escape goes back to the message.
loading = Loading…
load-older = Load older messages
history-begins = The room's history begins here: messages are kept for { $days ->
    [one] { $days } day.
   *[other] { $days } days.
}
no-messages = No messages yet. Say hello!
quote-gone = Original message deleted
new-messages = New messages
edited-mark = (edited)
edited-at = Edited { $time }
message-deleted = message deleted
# Lists of names: "bob, amy and cy", "bob and 3 others".
list-separator = {", "}
two-names = { $first } and { $last }
name-and-others = { $names } and { $count ->
    [one] 1 other
   *[other] { $count } others
}
people = { $count ->
    [one] 1 person
   *[other] { $count } people
}
joined = { $names } joined
left = { $names } left
joined-and-left = { $joined } joined, { $left } left
reacted = { $names } reacted with { $emoji }
today = Today
yesterday = Yesterday
message-actions = Message actions
reply = Reply
react = React
edit = Edit
delete-question = Delete this message?
delete = Delete
keep = Keep
pin = Pin
moderate-person = Moderate { $name }
sending = Sending…
send-when-online = Will send when back online
not-sent = Not sent: { $reason }
retry = Retry
discard = Discard

## The chat page

no-such-room = No such room
# $rule: why the name is not a room's (room-empty and the others).
not-a-room = That is not a room name. { $rule }
connecting = Connecting…
close-rooms = Close rooms
signed-out-title = Signed out · { -product }
you-signed-out = You signed out.
rooms = Rooms
rooms-unread = Rooms ({ NUMBER($count) })
dismiss = Dismiss
a-pinned-message = A pinned message
unpin = Unpin
pinned-messages = Pinned messages
room-locked = This room is locked: only its moderators post now.
room-locked-for = #{ $room } is locked: only its moderators post now.
# A desktop notification's title.
notification-title = { $user } in #{ $room }
muted-until = until { $time } ({ NUMBER($minutes) } min left)
# $when: for-good or muted-until.
muted = You are muted in #{ $room } { $when }.
muted-by = You are muted in #{ $room } { $when }: { $by } muted you.
muted-by-because = You are muted in #{ $room } { $when }: { $by } muted you ({ $reason }).
is-typing = {" "}is typing…
typing-and = {" "}and{" "}
are-typing = {" "}are typing…
people-typing = { NUMBER($count) } people are typing…

## The composer

cancel = Cancel
people-to-mention = People to mention
write-message = Write a message…
save = Save
save-title = Save the new text
save-offline-title = You are offline: edits wait for the connection
send = Send
send-title = Send the message
queue = Queue (offline)
queue-title = You are offline: the message is kept and sent when the connection is back
# Before and after the name a reply answers: "Replying to bob: …".
replying-to = Replying to{" "}
replying-to-end = {": "}
editing-message = Editing your message (Escape to cancel)
characters-left = { $count ->
    [one] 1 character left
   *[other] { $count } characters left
}
characters-over = { $count ->
    [one] 1 character over the limit
   *[other] { $count } characters over the limit
}

## The rooms

open-room = Open { $room }
unread-in = { $count ->
    [one] 1 unread message in { $room }
   *[other] { $count } unread messages in { $room }
}
unread-mentions-in = { $count ->
    [one] 1 unread message
   *[other] { $count } unread messages
}, { $mentions ->
    [one] 1 mentioning you
   *[other] { $mentions } mentioning you
}, in { $room }
mentions-of-you = Mentions of you
leave-room = Leave { $room }
leave = Leave
join-or-create = Join or create a room
room-name-placeholder = room-name
join = Join
room-rule-short = Letters, digits, - and _.
no-answer = the server did not answer
cannot-list-rooms = Cannot list the rooms: { $error }
no-rooms = No rooms yet.
here-count = { NUMBER($count) } here
browse-rooms = Browse rooms
switch-rooms = Switch rooms
go-to-room = Go to a room (Enter)

## The connection

connected = Connected
reconnect-now = Reconnect now
retrying-in = Offline, retrying in { NUMBER($seconds) } s
retrying = Offline, retrying…
offline = Offline

## Search

search = Search
search-messages = Search messages
all-your-rooms = all your rooms
search-all-rooms = Search all rooms
search-room-only = Search #{ $room } only
searching = Searching…
no-match = No messages match.
search-results = Search results
# $scope: #room or all-your-rooms.
results-for = “{ $query }” in { $scope }
close-search = Close search
load-more = Load more

## The reaction picker

pick-reaction = Pick a reaction
emoji-search-placeholder = Search: name or :shortcode:
search-emoji = Search emoji
recently-used = Recently used
emoji-groups = Groups
found = Found

## A room's notifications

notify-all = All messages
notify-mentions = Mentions only
notify-nothing = Nothing
notify-me-in = Notify me in #{ $room } about
notifications-on = Desktop notifications are on for this browser.
notifications-blocked = This browser blocks notifications from this site: allow them in its site settings.
allow-notifications = Allow desktop notifications
notifications = Notifications

## Who is online

claimed-name = Claimed name
claimed-name-label = (claimed name)
online = Online
moderate = Moderate
online-count = { NUMBER($count) } online

## More

message = Message
no-emoji = No emoji has that name.
# The button to the newest messages, below the list.
new-below = { NUMBER($count) } new ↓
and-more = and { NUMBER($count) } more
# After one's own name in the online list.
you = {" "}(you)
