"""What the bot says in chat: Chinese first, short, polite; tickets always named #n."""

from __future__ import annotations

HELP_HEAD = "您好，我是服务台机器人。您可以发送："
HELP_LINES: dict[str, list[str]] = {
    "anyone": [
        "报修 <问题描述>：提交报修，例如“报修 A-1024 注塑机报警 E31”（也可直接描述问题）",
        "我的工单：查看您的工单",
        "查看 #12：查看工单进度",
        "知识 <关键词>：查找常见问题的处理方法",
        "查看设备 <编号>：设备信息、保修和维修记录",
        "确认 #12 / 未解决 #12 <原因>：确认维修结果",
        "评价 #12 5 <评语>：为服务打分（1–5 分）",
    ],
    "staff": [
        "备注 #12 <内容>：内部备注（客户看不到），可 @姓名 提醒同事",
        "回复 #12 <内容>：回复客户",
    ],
    "engineer": [
        "接单 #12 / 拒单 #12 <原因>",
        "转派 #12 <姓名>",
        "申请备件 #12 LX-01*2 MF-03*1",
        "到场 #12：到达现场时登记（也可直接发送位置）",
        "完工 #12 <说明>（可先发送现场照片）",
    ],
    "agent": ["转派 #12 <姓名>：指派或改派工程师"],
    "manager": ["转派 #12 <姓名>", "统计 今天 / 本周 / 本月：服务数据汇总"],
    "stock_keeper": ["在备件审批卡片上点“同意”或“驳回”"],
}
HELP_TAIL = "发送“帮助”可随时查看本说明。"

UNKNOWN_COMMAND = "抱歉，没有理解您的意思。发送“帮助”查看可用的指令。"
ASSET_USAGE = "请带上设备编号，例如：查看设备 HX-2000-01"
NO_SUCH_ASSET = "没有找到设备 {id}，请核对铭牌上的编号。"
ASSET_NOT_YOURS = "抱歉，设备 {id} 没有您报修过的记录，无法查看。"
USAGE = "请带上工单编号，例如：{verb} #12"
NO_TICKETS = "您目前没有未完成的工单。发送“报修 <问题描述>”即可提交。"
NOT_INVOLVED = "抱歉，您无权查看工单 {ref}。"
NO_SUCH_TICKET = "没有找到工单 {ref}，请检查编号。"
NOT_FOUND_OR_NOT_YOURS = "没有找到您的工单 {ref}，请检查编号（发送“我的工单”可查看您的工单）。"
UNSUPPORTED_MESSAGE = "已收到。请用文字描述问题，或发送“帮助”查看可用的指令。"
TICKET_LINE = "{ref} {title}｜{status}"
TICKET_DETAIL = "工单 {ref}｜{type}\n标题：{title}\n状态：{status}\n负责人：{assignee}\n创建：{created}\n响应时限：{due}"
REPORT_LINK = "\n服务报告单：{url}"
PROGRESS_LINK = "\n进度：{url}"
CARD_NO_LONGER_VALID = (
    "抱歉，这张卡片已失效（已过期或不是发给您的），请以最新消息为准，或发送“帮助”查看可用的指令。"
)
NO_LONGER_ON_DESK = "您好，您已不在服务台人员名单中，无法再处理工单。如有疑问请联系服务台管理员。"
CANNOT_PROCESS = "抱歉，您刚才的消息无法处理，请换一种说法重新发送，或发送“帮助”查看可用的指令。"
ERROR_TRY_LATER = "抱歉，系统暂时繁忙，请稍后再试。"

ASK_DESCRIPTION = "请简单描述一下遇到的问题（例如：注塑机报警 E31，无法启动）。"
ASK_FIELD = "请提供{label}。"
ASK_CHOICE = "请选择{label}：{choices}。"
ASK_DATE = "请提供{label}，格式如 2026-12-01。"
ASK_PHOTO = "请发送{label}。"
ANSWER_INVALID = "{error}，请重新输入。（发送“取消”可放弃本次报修）"
PHOTO_SAVED = "照片已收到。"
PHOTO_HELD = "照片已收到，发送“完工 #工单号 说明”时会一并附上。"
INTAKE_CANCELLED = "好的，已取消本次报修。"
DIALOG_EXPIRED = (
    "您之前未完成的对话已超过 30 分钟，已自动取消。如需报修请重新发送“报修 <问题描述>”。"
)
SAME_PROBLEM = "您的工单 {ref}（设备 {device}）仍在处理中。这是同一个问题吗？回复“是”补充到 {ref}，回复“否”新建工单。"
ADDED_TO_TICKET = "已补充到工单 {ref}，我们会尽快处理。"
ASK_DECLINE_REASON = "请回复拒单原因（例如：不在附近、缺少工具），工单 #{id} 将转给其他工程师。"
ASK_REJECT_REASON = "请回复驳回原因，将通知申请人（工单 #{id}）。"
ASK_REOPEN_REASON = "很抱歉问题仍未解决。请简单说明情况，工单 #{id} 将转回工程师继续处理。"
PARTS_USAGE = "请按格式填写备件，例如：申请备件 #{id} LX-01*2 MF-03*1（无法识别：{bad}）"
RATE_USAGE = "请给出 1–5 分，例如：评价 #{id} 5 服务很好"
SUMMARY_USAGE = "请发送：统计 今天 / 统计 本周 / 统计 本月"
SUMMARY_MANAGERS_ONLY = "抱歉，统计数据仅对经理开放。"
KB_SUGGESTED = (
    "为您找到了可能有用的处理方法（见卡片）。问题已解决请点“已解决”；需要上门处理请点“仍需报修”。"
)
KB_DEFLECTED = "太好了，问题已解决，没有创建工单。以后有问题随时找我。"
KB_SUGGEST_DONE = "这条建议已经处理过了。如需报修，请直接描述问题。"
KB_USAGE = "请在“知识”后写上关键词，例如：知识 打印机卡纸"
KB_NOTHING = "没有找到与“{query}”相关的知识。如需上门处理，请直接描述问题报修。"
NOTHING_PENDING = "当前没有需要您确认的事项。"
