"""Default vocabulary for knowledge search: stop words and synonym groups.

The synonym groups are the everyday ways people in Chinese factories and offices name the same
device or symptom. They are the default of the `kb.synonyms` config key; a deployment replaces
or extends them there (`kb.synonyms_mode: extend`). Each group is one meaning; members are at
least two characters so that they never match by accident inside unrelated words.
"""

from __future__ import annotations

STOPWORDS = frozenset(
    """
    的 了 是 我 你 他 她 它 们 我们 你们 他们 这 那 这个 那个 就 都 也 还 又 在 和 跟 与 或 吗 呢 吧 啊
    呀 哦 嗯 么 么样 怎么 怎么办 怎么回事 怎样 如何 什么 为什么 请问 请 帮 帮忙 一下 一直 有 没 有点
    一点 一个 个 把 被 给 让 对 从 到 上 下 里 中 后 前 时 时候 会 能 要 想 说 看 去 来 着 过 得 地 很
    太 最 更 比 就是 但是 但 可是 然后 而且 所以 因为 如果 已经 还是 老是 总是 现在 今天 昨天 刚才
    师傅 您好 你好 谢谢 麻烦 急 急急 在线 等 问 问题 情况 这样 那样 一样 东西 啥 咋 咋办 多少 几 次
    又来了 出现 显示 提示 用 的话 好像 感觉 有时 有时候 经常 老 总 公司 我们的 这边 那边 啦 吧 哈 嘛
    ，。！？、；：“”‘’（）《》【】 , . ! ? ; : ( ) [ ] - ~ /
    """.split()
)

DEFAULT_SYNONYMS: tuple[tuple[str, ...], ...] = (
    # devices
    ("注塑机", "注射机", "啤机", "成型机"),
    ("空压机", "空气压缩机", "气泵", "螺杆机", "压缩机组"),
    ("冷水机", "冰水机", "冷冻机", "工业冷水机"),
    ("数控机床", "加工中心", "机床", "cnc", "车床", "铣床", "数控车"),
    ("叉车", "铲车", "堆高车", "电瓶车"),
    ("标签打印机", "标签机", "条码打印机", "条码机", "贴纸打印机"),
    ("标签纸", "贴纸", "不干胶"),
    ("打印机", "复印机", "一体机"),
    ("喷码机", "喷码器", "打码机"),
    ("投影仪", "投影机", "投影"),
    ("投屏器", "投屏按键", "投屏按钮", "无线投屏", "投屏"),
    ("电脑", "计算机", "主机", "台式机", "笔记本"),
    ("触摸屏", "人机界面", "hmi", "操作屏"),
    ("变频器", "变频", "驱动器"),
    ("电机", "马达", "电动机"),
    ("蓄电池", "电瓶", "电池"),
    ("充电机", "充电器"),
    ("门禁卡", "工牌", "工卡", "门卡", "员工卡"),
    ("钉钉", "dingtalk"),
    ("企业微信", "企微", "wecom"),
    ("邮箱", "邮件", "email", "电子邮件"),
    ("wi-fi", "wifi", "无线网", "无线网络"),
    ("账号", "账户", "帐号", "帐户", "用户名"),
    ("登录", "登陆", "登入"),
    ("vpn", "公司网络", "远程办公", "居家办公", "在家办公"),
    # symptoms
    (
        "无法启动",
        "开不了机",
        "启动不了",
        "不能启动",
        "开不起来",
        "起不来",
        "不启动",
        "打不着火",
        "点不着",
    ),
    ("没反应", "无反应", "没有反应", "不动作", "没动静"),
    ("上不了网", "断网", "没网", "网断了", "无internet", "连不上网", "不能上网"),
    ("连不上", "连接失败", "无法连接", "连不进", "登不进", "进不去"),
    ("漏水", "渗水", "滴水", "冒水"),
    ("漏油", "渗油", "滴油", "一滩油"),
    ("漏料", "流涎", "滴胶", "漏胶", "拉丝"),
    ("缺料", "缺胶", "打不满", "短射", "走不满"),
    ("毛边", "飞边", "批锋", "毛刺"),
    ("跳闸", "跳机", "跳停", "停机", "跳掉"),
    ("过载", "电流大", "过流"),
    ("报警", "告警", "保警", "报错", "故障码", "警报"),
    ("过热", "发烫", "温度高", "温度过高", "太热", "很烫", "排温高"),
    ("温度升不上去", "升温慢", "升不上温", "温度上不去", "温度不够", "不升温"),
    ("压力低", "压力上不去", "压力打不上去", "压力不够", "没劲", "无力"),
    ("异响", "噪音大", "声音大", "怪叫", "吱吱响", "响声"),
    ("振动大", "抖动", "震动"),
    ("卡顿", "很慢", "卡死", "反应慢", "打开慢", "转圈"),
    ("死机", "卡住", "定住", "不响应"),
    ("黑屏", "屏幕不亮", "不显示", "没显示"),
    ("模糊", "不清晰", "看不清", "字迹淡", "很淡", "发虚"),
    ("卡纸", "夹纸", "塞纸"),
    ("脱机", "离线"),
    ("退信", "被退回", "发不出去", "发送失败"),
    ("密码错误", "密码不对", "密码框"),
    ("锁定", "被锁", "锁了", "冻结"),
    ("无信号", "no signal", "没有信号", "没信号"),
    ("打卡", "考勤", "签到"),
    ("刷不开", "滴不开", "刷卡没反应", "打不开门"),
    ("制冷差", "不够冷", "不冷", "制冷效果差", "冷却不下来"),
    ("缺冷媒", "缺氟", "没氟", "漏氟", "冷媒不足"),
    ("保养", "维护保养", "保养到期"),
    ("升不起来", "起升无力", "举不起来", "抬不起来"),
    ("刹车", "制动", "刹不住"),
    ("回零", "回原点", "回参考点"),
    ("超程", "限位", "撞限位"),
    ("冷却液", "切削液", "冷却水"),
    ("导轨油", "润滑油"),
    ("按钮", "按键"),
    ("黑线", "黑杠", "黑条", "黑道", "黑印"),
    ("打印淡", "印得淡", "变淡", "淡了", "颜色浅"),
    ("读不到", "识别不了", "读取失败", "找不到"),
    ("扫描", "扫描件", "扫到"),
)

# Words near which a code in an article is an alarm or error code rather than a model name.
ALARM_CUES = ("报警", "代码", "故障码", "错误", "报错", "提示", "告警", "alarm", "error", "err")

# Kinds of question a troubleshooting article does not answer unless it says so: price, brand
# or recommendation (asked about), buying, booking or borrowing, who or where to get something,
# adding or replacing equipment (asked for). A query that asks one of these ("冷水机用什么牌子
# 的冷媒比较好", "帮我订一间会议室") is answered only by an article that speaks of the same
# thing (any member of the group in its text); sharing the device's or the symptom's words is
# not enough. One-character members count only as a whole word (订 in 帮我订, not in 订单).
REQUEST_TOPICS: tuple[tuple[str, ...], ...] = (
    ("多少钱", "价格", "价钱", "报价", "单价", "费用", "收费", "便宜", "价", "贵"),
    (
        *("牌子", "品牌", "哪家", "哪款", "哪个好", "哪种好", "推荐", "性价比"),
        *("厂家", "厂商", "供应商"),
    ),
)
# Actions asked for; followed by 了 / 的 / 过 / 来 they tell what happened instead (新买的打印机
# 连不上, 订了会议室但投屏失败, 借来的投影仪没信号) and do not count.
REQUEST_ACTIONS: tuple[tuple[str, ...], ...] = (
    ("采购", "购买", "新买", "添置", "下单", "买", "卖"),
    ("预订", "预定", "预约", "借用", "租用", "订", "约", "借", "租"),
    (
        *("找谁", "谁负责", "谁管", "谁来", "去哪里", "哪里办", "哪里领"),
        *("办理", "补办", "领取", "领用", "审批", "报销", "办", "领"),
    ),
    ("加一台", "加装", "多配", "配一台", "换一台", "换台", "换个", "换新"),
)
REQUEST_INTENTS = REQUEST_TOPICS + REQUEST_ACTIONS
