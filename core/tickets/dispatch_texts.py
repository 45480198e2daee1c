"""What dispatch, assignment and transfer say to people: Chinese, short, naming the ticket #n."""

from __future__ import annotations

# --- card status lines (the finished card shows who did what) ---------------------------------
ACCEPTED_CARD = "{name} 已接单（{at}）"
DECLINED_CARD = "{name} 已拒单：{reason}"
TAKEN_CARD = "已由 {name} 接单（{at}），感谢您的响应"
EXPIRED_CARD = "{minutes} 分钟内未接单，工单已收回（{at}）"
WITHDRAWN_CARD = "工单已改派给 {name}（{at}）"
WITHDRAWN_NOBODY_CARD = "工单已收回（{at}）"

# --- messages ------------------------------------------------------------------------------------
CUSTOMER_ACCEPTED = "您的工单 {ref} 已由工程师 {name} 接单{phone}，将尽快与您联系。"
PHONE = "（电话 {phone}）"
ESCALATE = "工单 {ref}（{title}）{why}，目前仍待派单。请手动派单：转派 {ref} <姓名>"
WHY_NOBODY = "没有符合条件的在岗工程师"
WHY_DECLINES = "已被拒单 {n} 次"
WHY_TIMEOUT = "派出后无人在 {minutes} 分钟内接单"
TRANSFERRED_FROM_YOU = "工单 {ref} 已由 {actor} 转派给 {name}，您无需再处理。"
TRANSFER_DONE = "已将工单 {ref} 转派给 {name}，等待对方接单。"
POOL_OFFERED = "工单 {ref} 已发给 {n} 位工程师抢单。"

# --- refusals --------------------------------------------------------------------------------------
ENGINEERS_ONLY = "抱歉，只有工程师可以{verb}（工单 {ref}）。"
NOT_YOURS = "工单 {ref} 没有派给您，无法{verb}。"
TAKEN_BY = "工单 {ref} 已由 {name} 接单，感谢您的响应，无需再处理。"
REASSIGNED = "工单 {ref} 已改派给其他工程师，无需再处理。"
ALREADY_DECLINED = "您已拒过工单 {ref}，无需再处理。"
ALREADY_ACCEPTED = "您已接下工单 {ref}，无需重复接单。"
CANNOT = "工单 {ref} 当前状态为{status}，无法{verb}。"
DECLINE_REASON = "请说明拒单原因，例如：拒单 {ref} 不在附近"
TRANSFER_WHO = "请写上要转给谁，例如：转派 {ref} 张伟"
TRANSFER_FORBIDDEN = "抱歉，只有当前负责的工程师、客服或经理可以转派工单 {ref}。"
TRANSFER_UNKNOWN = "找不到工程师“{who}”，请使用准确的姓名或工号（工单 {ref} 未转派）。"
TRANSFER_NOT_ENGINEER = "“{who}”不是在职的工程师，无法接收工单 {ref}。"
TRANSFER_SAME = "工单 {ref} 已由 {name} 负责，无需转派。"
DISPATCH_STAFF_ONLY = "抱歉，只有客服或经理可以派单（工单 {ref}）。"
ALREADY_DISPATCHED = "工单 {ref} 当前状态为{status}，无需重新派单。"
ASSIGN_SAME = "工单 {ref} 已派给 {name}，无需重复派单。"
