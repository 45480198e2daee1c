"""What the bot says in chat: Chinese first, short, polite; tickets always named #n."""

from __future__ import annotations

HELP_CUSTOMER = (
    "您好，我是服务台机器人。您可以：\n"
    "· 报修 <问题描述>：提交报修（例如：报修 A-1024 注塑机报警 E31）\n"
    "· 我的工单：查看您的工单\n"
    "· 查看 #12：查看某个工单的进度\n"
    "· 帮助：显示本说明"
)
HELP_STAFF_EXTRA = "\n服务人员另可：查看 #12、备注 #12 <内容>（仅内部可见）"
UNKNOWN_COMMAND = (
    "抱歉，没有理解您的意思。发送“帮助”查看可用的指令，或发送“报修 <问题描述>”提交报修。"
)
NEED_FIELDS = "为了尽快处理，请补充{fields}。可以这样发送：报修 {example}"
NO_TICKETS = "您目前没有工单。发送“报修 <问题描述>”即可提交。"
NOT_INVOLVED = "抱歉，您无权查看工单 {ref}。"
UNSUPPORTED_MESSAGE = "已收到。目前请用文字描述问题，或发送“帮助”查看可用的指令。"
TICKET_LINE = "{ref} {title}｜{status}"
TICKET_DETAIL = (
    "工单 {ref}｜{type}\n标题：{title}\n状态：{status}\n负责人：{assignee}\n创建：{created}"
)
ERROR_TRY_LATER = "抱歉，系统暂时繁忙，请稍后再试。"
