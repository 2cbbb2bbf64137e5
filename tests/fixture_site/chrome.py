"""Page furniture of the fixture site: navigation, share bars, comments,
footers. All of it is boilerplate an extractor must leave out; the catalog
lists these strings per article (``ExpectedArticle.boilerplate``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .model import Comment

# --- Chinese portal -------------------------------------------------------

ZH_SITE_NAME = "北疆新闻网"
ZH_TITLE_SEPARATOR = "_"
ZH_TOP_BAR = ("设为首页", "加入收藏", "手机版", "客户端下载", "登录", "注册")
# Channel links; their hrefs carry ?channel= and land on the home page, as
# many Chinese CMSs route list pages through one script.
ZH_NAV = (
    ("首页", ""), ("时政要闻", "shizheng"), ("社会法治", "shehui"), ("国际视野", "guoji"),
    ("财经观察", "caijing"), ("北疆文旅", "wenlv"), ("体育健康", "tiyu"), ("图片频道", "tupian"),
    ("视频直播", "shipin"), ("专题策划", "zhuanti"), ("评论言论", "pinglun"), ("数字报刊", "epaper"),
    ("English", "en"),
)
ZH_BREADCRUMB_HOME = "首页"
ZH_BREADCRUMB_CHANNEL = "新闻中心"
ZH_BREADCRUMB_LEAF = "正文"
ZH_SHARE_TEXT = "分享让更多人看到"
ZH_SHARE_TARGETS = ("微信", "新浪微博", "QQ空间", "复制链接")
ZH_RELATED_HEADING = "相关新闻"
ZH_COMMENTS_HEADING = "网友评论"
ZH_COMMENTS_NOTE = "网友评论仅供其表达个人看法，并不表明本网同意其观点或证实其描述"
ZH_HOT_HEADING = "热点排行"
ZH_AD_TEXT = "广告"
ZH_FONT_SIZE = "【字体：大 中 小】"
ZH_PRINT_CLOSE = ("【打印本页】", "【关闭窗口】")
ZH_FOOTER_LINKS = ("关于我们", "联系我们", "广告服务", "网站地图", "法律声明", "招聘信息")
ZH_FOOTER_LINES = (
    "Copyright © 2003-2021 北疆新闻网 版权所有",
    "蒙ICP备10000001号-1",
    "蒙公网安备 15010202000001号",
    "互联网新闻信息服务许可证编号：15120170001",
    "违法和不良信息举报电话：0471-6660000",
)
# The old GBK site keeps its own, shorter footer.
GBK_FOOTER_LINES = (
    "主办：呼伦贝尔日报社  版权所有 未经书面授权禁止转载",
    "蒙ICP备10000002号",
    "建议使用1024×768分辨率浏览本站",
)
# Commenters and comments; each Chinese article shows three of them.
ZH_COMMENT_POOL = (
    ("网友“草原雄鹰”", "向奋战在一线的人民警察致敬！你们辛苦了！"),
    ("呼市网友zhangbo88", "为家乡的守护者点赞，盼望疫情早日结束，大家都能平安回家。"),
    ("阿拉善的风", "看完眼眶湿润了，平凡的岗位上都是不平凡的人。"),
    ("包头市民老刘", "楼下的卡口天天有民警值守，风雪天也不离开，真心感谢。"),
    ("鄂尔多斯小马", "希望有关部门多关心一线民警的身体，别太拼了。"),
    ("网友“星夜赶路人”", "这样的报道多来一些，正能量满满！"),
)
ZH_COMMENTS_PER_ARTICLE = 3
COMMENT_TIME_FORMAT = "%Y-%m-%d %H:%M"

# --- JS-only shell (the feed-body-only article) ----------------------------

SHELL_TITLE = "北疆新闻客户端"
SHELL_LOADING = "正在加载，请稍候…"
SHELL_NOSCRIPT = "请开启浏览器的 JavaScript 功能后访问本页面。"

# --- English pages ----------------------------------------------------------

EN_SITE_NAME = "Northern Frontier News"
EN_TITLE_SEPARATOR = " | "
EN_NAV = ("World", "Politics", "Business", "Science", "Climate", "Opinion", "Culture", "Sports", "Podcasts")
EN_ACCOUNT_LINKS = ("Subscribe", "Log in")
EN_NEWSLETTER_HEADING = "Get the Morning Briefing in your inbox"
EN_NEWSLETTER_TEXT = "The day's most important stories, curated by our editors and delivered every weekday at 6 a.m."
EN_NEWSLETTER_PLACEHOLDER = "Enter your email address"
EN_NEWSLETTER_BUTTON = "Sign up"
EN_SHARE = ("Share on Facebook", "Share on X", "Email this article")
EN_RELATED_HEADING = "Related stories"
EN_MOST_READ_HEADING = "Most read"
EN_FOOTER_LINES = (
    "© 2021 Northern Frontier News. All rights reserved.",
    "Terms of Use",
    "Privacy Policy",
    "Cookie Settings",
    "Advertise with us",
)


def comments_for(index: int, published: datetime | None) -> tuple[Comment, ...]:
    """Three comments for the index-th Chinese article, posted after it."""
    start = published or datetime(2020, 1, 1, 8, 0)
    chosen = []
    for n in range(ZH_COMMENTS_PER_ARTICLE):
        user, text = ZH_COMMENT_POOL[(index + n) % len(ZH_COMMENT_POOL)]
        posted = start + timedelta(hours=2 + 3 * n, minutes=17 * n)
        chosen.append(Comment(user, text, posted.strftime(COMMENT_TIME_FORMAT)))
    return tuple(chosen)


def zh_boilerplate(share_bar: bool = True) -> list[str]:
    """Furniture every Chinese portal page carries (comments and related titles
    are per article). ZAKER-style bodies have a share line but no share bar."""
    return [
        *ZH_TOP_BAR, *(label for label, _ in ZH_NAV), ZH_SHARE_TEXT, *(ZH_SHARE_TARGETS if share_bar else ()),
        ZH_RELATED_HEADING, ZH_COMMENTS_HEADING, ZH_COMMENTS_NOTE, ZH_HOT_HEADING,
        *ZH_FOOTER_LINKS, *ZH_FOOTER_LINES,
    ]


def gbk_boilerplate() -> list[str]:
    return [*(label for label, _ in ZH_NAV), ZH_FONT_SIZE, *ZH_PRINT_CLOSE, ZH_RELATED_HEADING, *GBK_FOOTER_LINES]


def en_boilerplate() -> list[str]:
    return [
        *EN_NAV, *EN_ACCOUNT_LINKS, EN_NEWSLETTER_HEADING, EN_NEWSLETTER_TEXT, EN_NEWSLETTER_BUTTON,
        *EN_SHARE, EN_RELATED_HEADING, EN_MOST_READ_HEADING, *EN_FOOTER_LINES,
    ]


def shell_boilerplate() -> list[str]:
    return [SHELL_LOADING, SHELL_NOSCRIPT]
