"""What completion, confirmation, reopening and rating say to people (Chinese, naming #n)."""

from __future__ import annotations

# refusals
ENGINEER_ONLY = "抱歉，只有工程师可以标记完工（工单 {ref}）。"
NOT_YOUR_TICKET = "工单 {ref} 不是由您负责，无法标记完工。"
CANNOT_COMPLETE = "工单 {ref} 当前状态为{status}，需处理中（已接单）才能标记完工。"
REQUESTER_ONLY = "抱歉，只有报修人可以{verb}工单 {ref}。"
NOT_RESOLVED = "工单 {ref} 当前状态为{status}，只有已完工待确认的工单才能{verb}。"
REASON_REQUIRED = "请说明未解决的原因，例如：未解决 {ref} 仍然报警"
NOT_CLOSED = "工单 {ref} 当前状态为{status}，确认完成（确认 {ref}）后才能评价。"
ALREADY_RATED = "工单 {ref} 已评价过（{score}分），每张工单只能评价一次，感谢您的反馈！"
BAD_SCORE = "工单 {ref} 的评分应为 1 到 5 分，例如：评价 {ref} 5 服务很好"

# card statuses (who did what; WeCom shows at most 20 characters on a finished button)
CONFIRMED = "{name} 已确认完成"
REOPENED = "{name} 反馈未解决"
AUTO_CLOSED = "{days}天未确认，已自动关闭"
RATED = "已评价：{score}分"

# messages
DONE_TO_ENGINEER = "工单 {ref} 已标记完工，已请客户确认。"
CONFIRMED_TO_ENGINEER = "客户已确认工单 {ref} 完成，工单已关闭。"
REOPENED_TO_ENGINEER = "客户反馈工单 {ref} 未解决，已转回给您继续处理。原因：{reason}"
REOPENED_TO_REQUESTER = "已将工单 {ref} 转回工程师 {engineer} 继续处理，请耐心等待。"
AUTO_CLOSED_TO_REQUESTER = (
    "工单 {ref} 完工后 {days} 天未收到您的确认，系统已自动关闭。"
    "如问题仍在，请重新报修；也可回复“评价 {ref} 5 评语”为本次服务打分。"
)
THANKS = "感谢您对工单 {ref} 的评价（{score}分）！"
LOW_RATING = (
    "工单 {ref} 收到低分评价：{score}分。评语：{comment}。报修人：{requester}，工程师：{engineer}。"
)
NO_COMMENT = "无"
SIGN_LINK = "工单 {ref} 已完工。请在手机上打开链接，核对服务内容后签字确认：{url}\n（不方便签字也可以直接回复“确认 {ref}”）"
