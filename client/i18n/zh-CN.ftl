# 聊天界面的简体中文文本。每行是 `键 = 文本`;`{ $name }` 由页面填入;
# `{ $count -> [one] … *[other] … }` 按数字选择形式。每种语言的文件中
# 键都相同(否则无法构建)。Fluent 语法:https://projectfluent.org

-product = 聊天

## 语言菜单:每种语言按其读者的写法命名。

language-en = English
language-zh-cn = 中文
language-menu = 语言

## 管理

purge-count = { $count ->
    [1] 删除 { $target } 在 #{ $room } 中的那一条消息?此操作无法撤销。
   *[other] 删除 { $target } 在 #{ $room } 中的全部 { $count } 条消息?此操作无法撤销。
}

## 名字菜单

your-name = 你的名字
current-password = 当前密码
keep-name-hint = 保留这个名字:设置密码后,别人就不能再用它。
new-password = 新密码(8 到 128 个字符)
change-password = 修改密码
keep-name = 保留这个名字
password-changed = 密码已修改:你的其他会话已退出登录。
name-kept = 这个名字现在归你了。
sign-out = 退出登录

## API 令牌(在名字菜单中)

api-tokens = API 令牌
token-name = 名称(脚本的用途)
create-token = 创建 API 令牌
no-tokens = 没有令牌。
new-token = 你的新令牌,只显示这一次:
copy = 复制
copied = 已复制。
revoke = 撤销
revoke-token = 撤销 { $name }
revoked = 已撤销。
no-token-name = (无名称)
until = 直到 { $time }
until-revoked = 直到被撤销

## 登录页

product = { -product }
pick-name = 选一个名字加入聊天室。
pick-name-for = 选一个名字加入 #{ $room }。
password = 密码
password-hint = 仅用于已被认领的名字;访客请留空。
enter = 进入
username-rule = 1 到 { NUMBER($max) } 个字符。

## 页面和服务器拒绝的内容

username-empty = 请选择一个用户名。
username-too-long = 用户名最多 { NUMBER($max) } 个字符。
username-forbidden = 用户名不能包含控制字符或不可见的格式字符。
username-invisible = 用户名至少需要一个可见字符。
room-empty = 请输入聊天室名称:1 到 { NUMBER($max) } 个字母、数字、“-”或“_”。
room-too-long = 聊天室名称最多 { NUMBER($max) } 个字符:字母、数字、“-”或“_”。
room-forbidden = 聊天室名称只能包含字母、数字、“-”和“_”(不能有空格),1 到 { NUMBER($max) } 个。
room-mixed-scripts = 聊天室名称不能混用拉丁字母与西里尔字母或希腊字母:它们看起来很像。
refused-frame = 服务器无法读取本页发送的内容。请重新加载页面。
refused-empty-message = 消息不能为空。
message-too-long = 消息最多 { NUMBER($max) } 个字符。
refused-invalid-message = 消息中除换行和制表符外不能包含控制字符。
refused-storage = 消息未能保存,请重试。
refused-shutting-down = 服务器正在重启;恢复后你的消息会自动发出。
refused-username-taken = 此刻有别人在使用这个名字。
refused-rate-limited = 操作太频繁,请稍等片刻再试。
rate-limited-for = 尝试次数过多;请在 { NUMBER($seconds) } 秒后重试。
refused-not-in-room = 你不在这个聊天室中。
refused-too-many-rooms = 你加入的聊天室已达上限:请先退出一个。
refused-room-limit = 服务器的聊天室数量已达上限;请加入已有的聊天室。
refused-not-found = 这条消息已不在本聊天室中。
refused-not-yours = 只有作者本人才能修改这条消息。
refused-invalid-emoji = 回应只能是一个表情符号。
refused-too-many-reactions = 这条消息的不同回应已达上限。
refused-message-deleted = 这条消息已被删除。
refused-name-claimed = 这个名字已被认领:请输入它的密码。
refused-wrong-password = 这不是这个名字的密码。
refused-invalid-password = 密码长度为 8 到 128 个字符。
refused-not-signed-in = 你已退出登录:请重新登录。
refused-forbidden-origin = 已拒绝:请求来自其他网站。
refused-muted = 你在本聊天室中已被禁言。
refused-banned = 你已被封禁。
refused-room-locked = 本聊天室已锁定:只有管理员可以发言。
refused-not-allowed = 只有管理员才能这样做。
refused-invalid-query = 无法解析这个搜索。
refused-client-id-reused = 这条消息已经以不同的内容发送过。
refused-too-many-tokens = 这个名字的令牌已达上限:请先撤销一个。
unreachable = 无法连接服务器,请重试。
server-answered = 服务器返回了 { NUMBER($status) }。
purge-all = 删除 { $target } 在 #{ $room } 中的所有消息?此操作无法撤销。
confirm-ban = 在所有聊天室中封禁 { $target }({ $how-long })?
confirm-ban-address = 封禁 { $target } 所在地址上的访客({ $how-long })?该地址上的所有访客都将被拒之门外。
for-good = 永久
for-minutes = { NUMBER($minutes) } 分钟
lift = 解除
lift-for = 解除:{ $name }
muted-in = 在 #{ $room } 中被禁言
nobody = 无人。
banned = 已封禁
recent-actions = 最近的操作
moderation = 管理
covers-name = 名字
covers-browser = 浏览器
covers-address = 地址
audit-line = { $time }:{ $line }
moderate-room = 管理 #{ $room }
lock-room = 锁定聊天室
unlock-room = 解锁聊天室
mod-name = 名字
mod-action = 操作
choose-action = 选择一个操作…
mod-minutes = 持续多少分钟(留空:永久)
mod-reason = 原因(对方可见)
apply = 执行
act-mute = 禁言
act-unmute = 解除禁言
act-kick = 移出
act-ban = 封禁(名字及访客的浏览器)
act-unban = 解除封禁
act-purge = 删除其在此的全部消息
act-ban-address = 封禁其地址上的访客(按所填分钟数)
act-grant = 设为本聊天室的管理员
act-revoke = 收回本聊天室的管理权
act-grant-all = 设为所有聊天室的管理员
act-revoke-all = 收回所有聊天室的管理权

## 管理员的操作,按聊天室中显示的样子($by:管理员)

did-delete = { $by } 删除了一条消息
did-pin = { $by } 置顶了一条消息
did-unpin = { $by } 取消置顶了一条消息
did-mute-you = { $by } 暂时禁止你在这里发言
did-mute = { $by } 禁言了 { $target }
did-unmute = { $by } 解除了 { $target } 的禁言
did-unmute-you = { $by } 允许你重新在这里发言
did-kick = { $by } 移出了 { $target }
did-ban = { $by } 封禁了 { $target }
did-ban-address = { $by } 移出了 { $target } 并封禁了其地址上的访客
did-unban = { $by } 解除了对 { $target } 的封禁
did-purge = { $by } 删除了 { $target } 的消息
did-lock = { $by } 锁定了聊天室:只有管理员可以发言
did-unlock = { $by } 解锁了聊天室
did-grant = { $by } 将 { $target } 设为管理员
did-revoke = { $by } 收回了 { $target } 的管理权
with-reason = { $text }:{ $reason }

## 消息列表

first-unread = ↑ 第一条未读
messages = 消息
list-keys = 上下方向键在消息之间移动,左右方向键在消息的链接和操作之间移动,Esc 返回消息。
loading = 加载中…
load-older = 加载更早的消息
history-begins = 聊天室的历史从这里开始:消息保留 { $days } 天。
no-messages = 还没有消息。打个招呼吧!
quote-gone = 原消息已删除
new-messages = 新消息
edited-mark = (已编辑)
edited-at = 编辑于 { $time }
message-deleted = 消息已删除
list-separator = 、
two-names = { $first } 和 { $last }
name-and-others = { $names } 等 { $count } 人
people = { $count } 人
joined = { $names } 加入了
left = { $names } 离开了
joined-and-left = { $joined } 加入了,{ $left } 离开了
reacted = { $names } 用 { $emoji } 做了回应
today = 今天
yesterday = 昨天
message-actions = 消息操作
reply = 回复
react = 回应
edit = 编辑
delete-question = 删除这条消息?
delete = 删除
keep = 保留
pin = 置顶
moderate-person = 管理 { $name }
sending = 发送中…
send-when-online = 恢复联网后发送
not-sent = 未发送:{ $reason }
retry = 重试
discard = 丢弃

## 聊天页

no-such-room = 没有这个聊天室
not-a-room = 这不是有效的聊天室名称。{ $rule }
connecting = 正在连接…
close-rooms = 关闭聊天室列表
signed-out-title = 已退出登录 · { -product }
you-signed-out = 你已退出登录。
rooms = 聊天室
rooms-unread = 聊天室({ NUMBER($count) })
dismiss = 关闭
a-pinned-message = 一条置顶消息
unpin = 取消置顶
pinned-messages = 置顶消息
room-locked = 本聊天室已锁定:只有管理员可以发言。
room-locked-for = #{ $room } 已锁定:只有管理员可以发言。
notification-title = { $user } 在 #{ $room }
muted-until = 直到 { $time }(还剩 { NUMBER($minutes) } 分钟)
muted = 你在 #{ $room } 中被禁言,{ $when }。
muted-by = 你在 #{ $room } 中被禁言,{ $when }:{ $by } 对你禁言。
muted-by-because = 你在 #{ $room } 中被禁言,{ $when }:{ $by } 对你禁言({ $reason })。
is-typing = {" "}正在输入…
typing-and = {" "}和{" "}
are-typing = {" "}正在输入…
people-typing = { NUMBER($count) } 人正在输入…

## 输入框

cancel = 取消
people-to-mention = 可提及的人
write-message = 输入消息…
save = 保存
save-title = 保存新的内容
save-offline-title = 你已离线:编辑会在连接恢复后提交
send = 发送
send-title = 发送消息
queue = 排队(离线)
queue-title = 你已离线:消息已保留,连接恢复后发送
replying-to = 回复{" "}
replying-to-end = {":"}
editing-message = 正在编辑你的消息(按 Esc 取消)
characters-left = 还可输入 { $count } 个字符
characters-over = 超出限制 { $count } 个字符

## 聊天室

open-room = 打开 { $room }
unread-in = { $room } 中有 { $count } 条未读消息
unread-mentions-in = { $room } 中有 { $count } 条未读消息,其中 { $mentions } 条提及你
mentions-of-you = 提及你的消息
leave-room = 退出 { $room }
leave = 退出
join-or-create = 加入或创建聊天室
room-name-placeholder = 聊天室名称
join = 加入
room-rule-short = 字母、数字、- 和 _。
no-answer = 服务器没有响应
cannot-list-rooms = 无法列出聊天室:{ $error }
no-rooms = 还没有聊天室。
here-count = { NUMBER($count) } 人在线
browse-rooms = 浏览聊天室
switch-rooms = 切换聊天室
go-to-room = 前往聊天室(按 Enter)

## 连接

connected = 已连接
reconnect-now = 立即重连
retrying-in = 已离线,{ NUMBER($seconds) } 秒后重试
retrying = 已离线,正在重试…
offline = 已离线

## 搜索

search = 搜索
search-messages = 搜索消息
all-your-rooms = 你的所有聊天室
search-all-rooms = 搜索所有聊天室
search-room-only = 仅搜索 #{ $room }
searching = 正在搜索…
no-match = 没有匹配的消息。
search-results = 搜索结果
results-for = 在{ $scope }中搜索“{ $query }”
close-search = 关闭搜索
load-more = 加载更多

## 回应选择器

pick-reaction = 选择回应
emoji-search-placeholder = 搜索:名称或 :短代码:
search-emoji = 搜索表情
recently-used = 最近使用
emoji-groups = 分组
found = 搜索结果

## 聊天室通知

notify-all = 所有消息
notify-mentions = 仅提及我的
notify-nothing = 不通知
notify-me-in = 在 #{ $room } 中通知我
notifications-on = 此浏览器已开启桌面通知。
notifications-blocked = 此浏览器阻止了本站的通知:请在网站设置中允许。
allow-notifications = 允许桌面通知
notifications = 通知

## 在线的人

claimed-name = 已认领的名字
claimed-name-label = (已认领的名字)
online = 在线
moderate = 管理
online-count = { NUMBER($count) } 人在线

## 其他

message = 消息
no-emoji = 没有这个名称的表情。
new-below = { NUMBER($count) } 条新消息 ↓
and-more = 还有 { NUMBER($count) } 人
you = {" "}(你)
