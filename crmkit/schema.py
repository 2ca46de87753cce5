"""The warehouse tables, declared once.

Every table the eight steps of customer management (客户管理) need is declared here with its
columns, types, key, allowed values, foreign keys and which columns hold personal data (PII).
``crmkit.db`` generates the DDL from these declarations, ``crmkit.ingest`` validates files against
them (and maps Chinese CRM-export headers such as 客户编号 / 下单时间 / 金额 onto them),
``crmkit.demo`` generates data for them and ``crmkit.quality`` scores records against them.

Conventions
-----------
- Business keys (``customer_id``, ``order_id`` …) are text, so leading zeros survive.
- ``customers`` and ``products`` also get a compact integer surrogate key (``customer_sk``,
  ``product_sk``) assigned at ingest; fact tables store the surrogate of the row they reference,
  so analyses group and join on integers (about 2x faster than on text ids at 10 M orders).
- Enumerations are stored as English codes; each code lists the Chinese (and other) spellings
  that ingest accepts for it, e.g. ``returned`` accepts 已退货 / 退货.
- Money is ``DECIMAL(18,2)`` in the company's currency (¥ by default).
- A file needs only the columns a table cannot do without (:meth:`Table.file_columns`: orders
  need customer, order time and amount; customers only their id). The rest is optional, and a
  few required columns are filled in when a file leaves them out (:meth:`Table.if_missing`):
  an order's status defaults to ``completed``, a missing ``order_id`` is computed from the row
  (``Table.key_from``), a customer's ``created_at`` is their first activity.
- ``customers`` and ``products`` accept stub rows (``Table.stubs``): ``crmkit ingest
  --add-missing`` creates one, with the key only and ``derived = true``, for every key a file
  references that the warehouse lacks. Rows loaded from files have ``derived = false``.
- A column with a ``default`` has a marker column beside it (:func:`defaulted_column`:
  ``orders.status_defaulted``), true on the rows whose value ingest filled in because the file
  had no such column or left the cell blank: an order status that was never in the data is not
  a return rate of 0 (:func:`crmkit.definitions.placed_orders`).

Examples
--------
>>> from crmkit.schema import TABLES
>>> TABLES["orders"].key
'order_id'
>>> [c.name for c in TABLES["customers"].pii_columns]
['name', 'phone', 'email']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import ibis
import ibis.expr.datatypes as dt

DType = Literal["text", "int", "money", "float", "date", "timestamp", "bool"]
PiiKind = Literal["name", "phone", "email", "text"]
Fill = Literal["first_activity"]

#: The column that marks stub rows created by ``ingest --add-missing`` (tables with ``stubs``).
DERIVED = "derived"


def defaulted_column(name: str) -> str:
    """The marker column of a column with a ``default``: true where ingest stored the default.

    >>> defaulted_column("status")
    'status_defaulted'
    """
    return f"{name}_defaulted"


#: A customer's first activity: the earliest ``order_ts`` of their orders. It stands in for a
#: ``created_at`` that a customers file leaves out (``fill="first_activity"``).
FIRST_ACTIVITY: tuple[str, str] = ("orders", "order_ts")

#: Ibis types of the schema's logical types.
IBIS_TYPES: dict[str, dt.DataType] = {
    "text": dt.string,
    "int": dt.int64,
    "money": dt.Decimal(18, 2),
    "float": dt.float64,
    "date": dt.date,
    "timestamp": dt.Timestamp(scale=6),
    "bool": dt.boolean,
}

#: What each logical type expects, for error messages.
EXPECTED: dict[str, str] = {
    "text": "text",
    "int": "a whole number",
    "money": "an amount such as 1234.50 (¥ and thousands separators allowed)",
    "float": "a number",
    "date": "a date such as 2024-03-01, 2024/3/1, 2024年3月1日 or an Excel serial date",
    "timestamp": "a date-time such as 2024-03-01 14:30:00 (a plain date is read as midnight)",
    "bool": "yes/no (true/false, 1/0, 是/否)",
}


@dataclass(frozen=True)
class Column:
    """One column of a warehouse table.

    Parameters
    ----------
    name : str
        Column name in the warehouse (snake_case English).
    dtype : DType
        Logical type; see ``IBIS_TYPES``.
    zh, en : str
        Labels shown to users.
    required : bool
        The warehouse needs a value here. A file row without one is rejected, unless the column
        says how ingest fills it in (``default``, ``fill``, or the table's ``key_from`` for the
        key); see :meth:`Table.if_missing`.
    pii : {"name", "phone", "email", "text"} or None
        Personal data: masked for the dashboard role (in the dashboard snapshot) and in reject
        reports (:mod:`crmkit.privacy`). ``"text"`` is free text a customer or an agent wrote,
        which may carry a phone number or address: the numbers and addresses in it are masked.
    allowed : mapping of code -> accepted spellings, optional
        Enumeration: the stored codes and, for each, other spellings ingest maps onto it.
    aliases : tuple of str
        Other header names accepted for this column (Chinese CRM exports, English variants).
    min, max : float, optional
        Inclusive bounds for numbers.
    not_future : bool
        Dates / times later than the ingest moment are rejected.
    fk : str, optional
        Name of the table whose key this column references.
    default : str, optional
        The value stored when a file has no such column or leaves a cell blank (a code of
        ``allowed`` for enumerations).
    fill : {"first_activity"}, optional
        How ingest fills a value a file leaves out: ``"first_activity"`` = the customer's first
        order time (:data:`FIRST_ACTIVITY`); it stays empty until the customer's orders load.
    """

    name: str
    dtype: DType
    zh: str
    en: str
    required: bool = False
    pii: PiiKind | None = None
    allowed: Mapping[str, tuple[str, ...]] | None = None
    aliases: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    not_future: bool = False
    fk: str | None = None
    default: str | None = None
    fill: Fill | None = None

    @property
    def ibis_type(self) -> dt.DataType:
        return IBIS_TYPES[self.dtype]

    def spellings(self) -> dict[str, str]:
        """Map every accepted spelling (lower-cased) of an enum value to its code."""
        out: dict[str, str] = {}
        for code, others in (self.allowed or {}).items():
            for s in (code, *others):
                out[s.strip().lower()] = code
        return out


@dataclass(frozen=True)
class Table:
    """A warehouse table: its columns, business key and optional integer surrogate key.

    ``time_column`` is the moment a row belongs to, used by period filters.
    ``ordered`` lists pairs (earlier, later) of time columns where ``later`` may not precede
    ``earlier`` in the same row (a ticket cannot be answered before it was opened).
    ``key_from`` lists the columns from which ingest computes a key a file does not give: the
    same row content (and the row's ordinal among identical rows of the file) always gives the
    same key, so re-ingesting a file without keys finds the rows it loaded before.
    ``stubs`` says ingest may create key-only rows, marked ``derived``, for keys other tables
    reference (``ingest(..., add_missing=True)``).
    """

    name: str
    zh: str
    en: str
    key: str
    columns: tuple[Column, ...]
    surrogate: str | None = None
    ordered: tuple[tuple[str, str], ...] = ()
    kind: Literal["entity", "fact", "system"] = "fact"
    time_column: str | None = None
    key_from: tuple[str, ...] = ()
    stubs: bool = False
    _by_name: dict[str, Column] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})
        unknown = [n for n in self.key_from if n not in self._by_name]
        assert not unknown, f"{self.name}.key_from names unknown columns {unknown}"

    def if_missing(self, col: Column) -> str | None:
        """What ingest stores when a file leaves ``col`` out, or None when nothing is filled in.

        Examples
        --------
        >>> t = TABLES["orders"]
        >>> t.if_missing(t["status"]), t.if_missing(t["order_id"]), t.if_missing(t["amount"])
        ('completed', 'computed from the row', None)
        >>> TABLES["customers"].if_missing(TABLES["customers"]["created_at"])
        'first order time'
        """
        if col.default is not None:
            return col.default
        if col.name == self.key and self.key_from:
            return "computed from the row"
        if col.fill == "first_activity":
            return "first order time"
        return None

    @property
    def file_columns(self) -> list[Column]:
        """The columns every file for this table must have: required and not filled in.

        Examples
        --------
        >>> [c.name for c in TABLES["orders"].file_columns]
        ['customer_id', 'order_ts', 'amount']
        >>> [c.name for c in TABLES["customers"].file_columns]
        ['customer_id']
        """
        return [c for c in self.columns if c.required and self.if_missing(c) is None]

    def __getitem__(self, name: str) -> Column:
        return self._by_name[name]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def pii_columns(self) -> list[Column]:
        return [c for c in self.columns if c.pii]

    @property
    def foreign_keys(self) -> list[Column]:
        return [c for c in self.columns if c.fk]

    @property
    def surrogate_columns(self) -> list[tuple[str, Column]]:
        """(surrogate column name, fk column) for every reference to a table with a surrogate."""
        out = []
        for c in self.foreign_keys:
            target = TABLES[c.fk]
            if target.surrogate:
                out.append((_surrogate_name(c, target), c))
        return out

    def ibis_schema(self) -> ibis.Schema:
        """The warehouse schema: declared columns plus surrogate keys, the ``derived`` mark and
        the markers of defaulted columns (:meth:`column_defaults`)."""
        fields: dict[str, dt.DataType] = {}
        if self.surrogate:
            fields[self.surrogate] = dt.int64
        for c in self.columns:
            fields[c.name] = c.ibis_type
        for sk, _ in self.surrogate_columns:
            fields[sk] = dt.int64
        for name in self.column_defaults:
            fields[name] = dt.boolean
        return ibis.schema(fields)

    @property
    def column_defaults(self) -> dict[str, bool]:
        """Warehouse columns with a DDL default: ``derived`` is false unless a stub sets it; a
        column's :func:`defaulted_column` is false unless ingest filled the value in.

        >>> TABLES["orders"].column_defaults, TABLES["products"].column_defaults
        ({'status_defaulted': False}, {'derived': False})
        """
        marks = {defaulted_column(c.name): False for c in self.columns if c.default is not None}
        return {DERIVED: False, **marks} if self.stubs else marks


def _surrogate_name(col: Column, target: Table) -> str:
    # customer_id -> customer_sk; referrer_id -> referrer_sk
    return col.name.removesuffix("_id") + "_sk" if col.name.endswith("_id") else target.surrogate


def _c(name: str, dtype: DType, zh: str, en: str, *aliases: str, **kw) -> Column:
    return Column(name, dtype, zh, en, aliases=aliases, **kw)


CUSTOMER_REF = dict(fk="customers", required=True)

ACQUISITION_CHANNELS = {
    "online": ("线上", "网站", "电商", "web"),
    "store": ("门店", "线下", "offline"),
    "referral": ("推荐", "转介绍", "老客推荐"),
    "sales": ("销售", "电销", "地推"),
    "event": ("活动", "展会", "会议"),
    "social": ("社交媒体", "微信", "微博", "抖音", "小红书", "wechat"),
    "partner": ("合作伙伴", "渠道商", "代理"),
    "other": ("其他", "其它"),
}
OWNER_TEAMS = {
    "sales": ("销售团队", "销售", "销售部"),
    "service": ("客户服务团队", "客服团队", "客服", "客户服务"),
    "success": ("客户成功团队", "客户成功", "customer success"),
    "marketing": ("市场营销团队", "市场", "市场部", "营销"),
}
CONTACT_CHANNELS = {
    "phone": ("电话", "呼叫中心", "call"),
    "email": ("邮件", "电子邮件", "e-mail"),
    "chat": ("在线聊天", "在线客服", "聊天", "im"),
    "social": ("社交媒体", "微信", "微博", "wechat"),
    "visit": ("拜访", "上门", "到店"),
    "service": ("服务", "服务请求", "工单"),
    "app": ("应用", "app内", "小程序"),
}

TABLES: dict[str, Table] = {}


def _register(t: Table) -> Table:
    TABLES[t.name] = t
    return t


_register(
    Table(
        "customers",
        "客户",
        "Customers",
        key="customer_id",
        time_column="created_at",
        surrogate="customer_sk",
        kind="entity",
        stubs=True,
        columns=(
            _c(
                "customer_id",
                "text",
                "客户编号",
                "Customer ID",
                "客户ID",
                "客户id",
                "客户代码",
                "客户号",
                "会员编号",
                "customer id",
                "cust_id",
                "id",
                required=True,
            ),
            _c(
                "name",
                "text",
                "客户名称",
                "Name",
                "客户姓名",
                "姓名",
                "名称",
                "联系人",
                "customer name",
                "full name",
                pii="name",
            ),
            _c(
                "phone",
                "text",
                "手机",
                "Phone",
                "手机号",
                "手机号码",
                "电话",
                "联系电话",
                "mobile",
                "tel",
                pii="phone",
            ),
            _c(
                "email",
                "text",
                "邮箱",
                "Email",
                "电子邮件",
                "电子邮箱",
                "e-mail",
                "mail",
                pii="email",
            ),
            _c(
                "gender",
                "text",
                "性别",
                "Gender",
                "sex",
                allowed={
                    "M": ("男", "male"),
                    "F": ("女", "female"),
                    "U": ("未知", "unknown", "其他"),
                },
            ),
            _c(
                "birthday",
                "date",
                "生日",
                "Birthday",
                "出生日期",
                "生日日期",
                "birth date",
                "date of birth",
                not_future=True,
            ),
            _c("province", "text", "省份", "Province", "省", "地区", "region", "state"),
            _c("city", "text", "城市", "City", "市"),
            _c(
                "company",
                "text",
                "公司",
                "Company",
                "公司名称",
                "单位",
                "企业名称",
                "organisation",
                "organization",
            ),
            _c("title", "text", "职位", "Title", "职务", "job title", "position"),
            _c(
                "acquisition_channel",
                "text",
                "获客渠道",
                "Acquisition channel",
                "来源渠道",
                "客户来源",
                "来源",
                "channel",
                "source",
                allowed=ACQUISITION_CHANNELS,
            ),
            _c(
                "created_at",
                "timestamp",
                "建档时间",
                "Created at",
                "创建时间",
                "注册时间",
                "建档日期",
                "注册日期",
                "created",
                "signup date",
                required=True,
                not_future=True,
                fill="first_activity",
            ),
            _c(
                "membership_tier",
                "text",
                "会员等级",
                "Membership tier",
                "会员级别",
                "等级",
                "tier",
                allowed={
                    "regular": ("普通", "普通会员", "无", "none"),
                    "silver": ("银卡", "银卡会员", "白银"),
                    "gold": ("金卡", "金卡会员", "黄金"),
                    "diamond": ("钻石", "钻石会员", "钻石卡", "platinum"),
                },
            ),
            _c(
                "owner_team",
                "text",
                "负责团队",
                "Owner team",
                "所属团队",
                "团队",
                "team",
                allowed=OWNER_TEAMS,
            ),
            _c("owner", "text", "负责人", "Owner", "客户经理", "销售代表", "account manager"),
            _c(
                "updated_at",
                "timestamp",
                "更新时间",
                "Updated at",
                "最后更新",
                "最后更新时间",
                "修改时间",
                "last updated",
                not_future=True,
            ),
            _c(
                "last_verified_at",
                "timestamp",
                "最后核实时间",
                "Last verified at",
                "核实时间",
                "最近回访时间",
                "last verified",
                not_future=True,
            ),
        ),
    )
)

_register(
    Table(
        "products",
        "产品",
        "Products",
        key="product_id",
        time_column="launch_date",
        surrogate="product_sk",
        kind="entity",
        stubs=True,
        columns=(
            _c(
                "product_id",
                "text",
                "产品编号",
                "Product ID",
                "商品编号",
                "产品ID",
                "商品ID",
                "sku",
                "product id",
                required=True,
            ),
            _c(
                "name",
                "text",
                "产品名称",
                "Product name",
                "商品名称",
                "品名",
                "product",
                required=True,
            ),
            _c(
                "category",
                "text",
                "品类",
                "Category",
                "类别",
                "产品类别",
                "商品类目",
                "类目",
                required=True,
            ),
            _c(
                "launch_date", "date", "上市日期", "Launch date", "上架日期", "发布日期", "launched"
            ),
            _c(
                "list_price",
                "money",
                "标价",
                "List price",
                "价格",
                "单价",
                "零售价",
                "price",
                min=0,
            ),
        ),
    )
)

_register(
    Table(
        "orders",
        "订单",
        "Orders",
        key="order_id",
        time_column="order_ts",
        key_from=("customer_id", "order_ts", "product_id", "quantity", "amount"),
        columns=(
            _c(
                "order_id",
                "text",
                "订单编号",
                "Order ID",
                "订单号",
                "订单ID",
                "order id",
                "order no",
                required=True,
            ),
            _c(
                "customer_id",
                "text",
                "客户编号",
                "Customer ID",
                "客户ID",
                "客户号",
                "会员编号",
                "customer id",
                **CUSTOMER_REF,
            ),
            _c(
                "product_id",
                "text",
                "产品编号",
                "Product ID",
                "商品编号",
                "商品ID",
                "sku",
                fk="products",
            ),
            _c(
                "order_ts",
                "timestamp",
                "下单时间",
                "Order time",
                "订单时间",
                "下单日期",
                "订单日期",
                "order date",
                "order time",
                required=True,
                not_future=True,
            ),
            _c("quantity", "int", "数量", "Quantity", "件数", "qty", min=1),
            _c(
                "amount",
                "money",
                "金额",
                "Amount",
                "订单金额",
                "实付金额",
                "成交金额",
                "支付金额",
                "total",
                required=True,
                min=0,
            ),
            _c("discount", "money", "优惠金额", "Discount", "折扣金额", "优惠", min=0),
            _c(
                "status",
                "text",
                "订单状态",
                "Status",
                "状态",
                required=True,
                default="completed",
                allowed={
                    "completed": ("已完成", "完成", "已签收", "交易成功", "paid"),
                    "returned": ("已退货", "退货", "退货完成"),
                    "refunded": ("已退款", "退款", "退款完成"),
                    "cancelled": ("已取消", "取消", "canceled"),
                },
            ),
            _c(
                "channel",
                "text",
                "下单渠道",
                "Order channel",
                "销售渠道",
                "渠道",
                allowed={
                    "online": ("线上", "网店", "电商", "web"),
                    "store": ("门店", "线下"),
                    "app": ("应用", "小程序", "app内"),
                    "phone": ("电话", "电话下单"),
                    "wechat": ("微信", "微信商城"),
                },
            ),
            _c(
                "promised_date",
                "date",
                "承诺送达日期",
                "Promised delivery date",
                "预计送达",
                "promised date",
            ),
            _c("delivered_at", "timestamp", "送达时间", "Delivered at", "签收时间", "delivered"),
            _c("return_reason", "text", "退货原因", "Return reason", "退款原因", pii="text"),
        ),
        ordered=(("order_ts", "delivered_at"),),
    )
)

_register(
    Table(
        "interactions",
        "互动记录",
        "Interactions",
        key="interaction_id",
        time_column="ts",
        columns=(
            _c(
                "interaction_id",
                "text",
                "互动编号",
                "Interaction ID",
                "记录编号",
                "记录ID",
                required=True,
            ),
            _c("customer_id", "text", "客户编号", "Customer ID", "客户ID", **CUSTOMER_REF),
            _c(
                "ts",
                "timestamp",
                "互动时间",
                "Time",
                "时间",
                "联系时间",
                "日期",
                "date",
                required=True,
                not_future=True,
            ),
            _c(
                "channel",
                "text",
                "渠道",
                "Channel",
                "联系方式",
                "互动渠道",
                required=True,
                allowed=CONTACT_CHANNELS,
            ),
            _c(
                "direction",
                "text",
                "方向",
                "Direction",
                "发起方",
                allowed={
                    "inbound": ("呼入", "客户发起", "来电", "in"),
                    "outbound": ("呼出", "我方发起", "去电", "out"),
                },
            ),
            _c("topic", "text", "主题", "Topic", "事由", "内容摘要", "subject", pii="text"),
            _c(
                "care_event",
                "text",
                "关怀类型",
                "Care event",
                "关怀",
                "care",
                allowed={
                    "none": ("无", ""),
                    "birthday": ("生日", "生日祝福"),
                    "holiday": ("节日", "节日问候", "春节", "中秋"),
                    "post_purchase": ("购后回访", "售后回访"),
                    "followup": ("回访", "定期回访"),
                    "offer": ("优惠", "优惠推送", "促销"),
                },
            ),
            _c("owner", "text", "负责人", "Owner", "经办人", "agent"),
        ),
    )
)

_register(
    Table(
        "feedback",
        "客户反馈",
        "Feedback",
        key="feedback_id",
        time_column="ts",
        columns=(
            _c(
                "feedback_id",
                "text",
                "反馈编号",
                "Feedback ID",
                "问卷编号",
                "反馈ID",
                required=True,
            ),
            _c("customer_id", "text", "客户编号", "Customer ID", "客户ID", **CUSTOMER_REF),
            _c(
                "ts",
                "timestamp",
                "反馈时间",
                "Time",
                "时间",
                "提交时间",
                "日期",
                "date",
                required=True,
                not_future=True,
            ),
            _c(
                "source",
                "text",
                "来源",
                "Source",
                "反馈来源",
                "类型",
                required=True,
                allowed={
                    "survey": ("调查", "满意度调查", "回访调查"),
                    "complaint": ("投诉",),
                    "suggestion": ("建议", "意见"),
                    "questionnaire": ("问卷", "需求问卷"),
                },
            ),
            _c("nps", "int", "推荐意愿", "NPS score", "NPS", "推荐度", "推荐评分", min=0, max=10),
            _c("csat", "int", "满意度", "CSAT score", "CSAT", "满意度评分", min=1, max=5),
            _c("ces", "int", "费力度", "CES score", "CES", "费力度评分", min=1, max=7),
            _c(
                "text",
                "text",
                "反馈内容",
                "Text",
                "内容",
                "意见内容",
                "comment",
                "comments",
                pii="text",
            ),
            _c(
                "language",
                "text",
                "语言",
                "Language",
                "lang",
                allowed={"zh": ("中文", "zh-cn", "chinese"), "en": ("英文", "english")},
            ),
            _c("order_id", "text", "订单编号", "Order ID", "订单号", fk="orders"),
            _c("product_id", "text", "产品编号", "Product ID", "商品编号", fk="products"),
        ),
    )
)

_register(
    Table(
        "tickets",
        "投诉工单",
        "Complaint tickets",
        key="ticket_id",
        time_column="opened_at",
        columns=(
            _c("ticket_id", "text", "工单编号", "Ticket ID", "投诉编号", "工单号", required=True),
            _c("customer_id", "text", "客户编号", "Customer ID", "客户ID", **CUSTOMER_REF),
            _c(
                "opened_at",
                "timestamp",
                "投诉时间",
                "Opened at",
                "创建时间",
                "受理时间",
                "opened",
                required=True,
                not_future=True,
            ),
            _c(
                "first_response_at",
                "timestamp",
                "首次响应时间",
                "First response at",
                "响应时间",
                "first response",
                not_future=True,
            ),
            _c(
                "resolved_at",
                "timestamp",
                "解决时间",
                "Resolved at",
                "结案时间",
                "关闭时间",
                "resolved",
                not_future=True,
            ),
            _c(
                "reopen_count",
                "int",
                "重开次数",
                "Times reopened",
                "重新打开次数",
                "reopened",
                min=0,
            ),
            _c(
                "channel",
                "text",
                "投诉渠道",
                "Channel",
                "渠道",
                required=True,
                allowed=CONTACT_CHANNELS,
            ),
            _c("category", "text", "投诉类别", "Category", "类别", "问题类型", required=True),
            _c(
                "severity",
                "text",
                "严重程度",
                "Severity",
                "紧急程度",
                "优先级",
                "priority",
                allowed={
                    "low": ("低",),
                    "medium": ("中", "一般"),
                    "high": ("高", "重要"),
                    "critical": ("紧急", "严重", "urgent"),
                },
            ),
            _c("team", "text", "处理团队", "Team", "团队", "负责团队"),
            _c("agent", "text", "处理人", "Agent", "客服", "经办人"),
            _c("escalated", "bool", "是否升级", "Escalated", "升级"),
            _c("order_id", "text", "订单编号", "Order ID", "订单号", fk="orders"),
        ),
        ordered=(("opened_at", "first_response_at"), ("opened_at", "resolved_at")),
    )
)

_register(
    Table(
        "opportunities",
        "销售机会",
        "Sales opportunities",
        key="opportunity_id",
        time_column="opened_at",
        columns=(
            _c(
                "opportunity_id",
                "text",
                "商机编号",
                "Opportunity ID",
                "机会编号",
                "商机ID",
                required=True,
            ),
            _c("customer_id", "text", "客户编号", "Customer ID", "客户ID", **CUSTOMER_REF),
            _c(
                "stage",
                "text",
                "阶段",
                "Stage",
                "商机阶段",
                "销售阶段",
                required=True,
                allowed={
                    "lead": ("线索",),
                    "qualified": ("已确认", "需求确认", "合格"),
                    "proposal": ("方案", "报价", "方案报价"),
                    "negotiation": ("谈判", "商务谈判"),
                    "won": ("赢单", "成交", "closed won"),
                    "lost": ("输单", "丢单", "closed lost"),
                },
            ),
            _c("amount", "money", "预计金额", "Amount", "金额", "商机金额", min=0),
            _c("source", "text", "商机来源", "Source", "来源"),
            _c("owner", "text", "负责人", "Owner", "销售", "销售代表"),
            _c(
                "opened_at",
                "timestamp",
                "创建时间",
                "Opened at",
                "开始时间",
                "opened",
                required=True,
                not_future=True,
            ),
            _c(
                "stage_changed_at",
                "timestamp",
                "阶段变更时间",
                "Stage changed at",
                "最近阶段变更",
                not_future=True,
            ),
            _c(
                "closed_at",
                "timestamp",
                "关闭时间",
                "Closed at",
                "结束时间",
                "closed",
                not_future=True,
            ),
        ),
        ordered=(("opened_at", "closed_at"), ("opened_at", "stage_changed_at")),
    )
)

_register(
    Table(
        "points_ledger",
        "积分流水",
        "Points ledger",
        key="entry_id",
        time_column="ts",
        columns=(
            _c("entry_id", "text", "流水编号", "Entry ID", "流水号", "记录编号", required=True),
            _c(
                "customer_id",
                "text",
                "客户编号",
                "Customer ID",
                "客户ID",
                "会员编号",
                **CUSTOMER_REF,
            ),
            _c(
                "ts",
                "timestamp",
                "时间",
                "Time",
                "发生时间",
                "日期",
                "date",
                required=True,
                not_future=True,
            ),
            _c(
                "kind",
                "text",
                "类型",
                "Kind",
                "积分类型",
                "变动类型",
                required=True,
                allowed={
                    "earn": ("获得", "积分获得", "赚取"),
                    "redeem": ("兑换", "使用", "消耗"),
                    "expire": ("过期", "失效"),
                    "adjust": ("调整", "人工调整"),
                },
            ),
            _c("points", "int", "积分", "Points", "积分数", "变动积分", required=True, min=0),
            _c("order_id", "text", "订单编号", "Order ID", "订单号", fk="orders"),
        ),
    )
)

_register(
    Table(
        "referrals",
        "推荐记录",
        "Referrals",
        key="referral_id",
        time_column="ts",
        columns=(
            _c("referral_id", "text", "推荐编号", "Referral ID", "推荐ID", required=True),
            _c(
                "referrer_id",
                "text",
                "推荐人编号",
                "Referrer ID",
                "推荐人",
                "推荐人ID",
                **CUSTOMER_REF,
            ),
            _c(
                "referred_id",
                "text",
                "被推荐人编号",
                "Referred customer ID",
                "被推荐人",
                "被推荐人ID",
                fk="customers",
            ),
            _c(
                "ts",
                "timestamp",
                "推荐时间",
                "Time",
                "时间",
                "日期",
                required=True,
                not_future=True,
            ),
            _c("channel", "text", "推荐渠道", "Channel", "渠道"),
            _c("converted", "bool", "是否成交", "Converted", "已转化", "转化"),
        ),
    )
)

#: Tables a company's files are ingested into, in dependency order (referenced tables first).
DATA_TABLES: tuple[str, ...] = tuple(TABLES)

#: Bookkeeping tables: every ingest run and rejected row (``crmkit.ingest``), every merge of
#: duplicate customers with what it changed, so that it can be undone (``crmkit.merge``).
SYSTEM_SCHEMAS: dict[str, ibis.Schema] = {
    "ingest_runs": ibis.schema(
        {
            "run_id": dt.int64,
            "file": dt.string,
            "table_name": dt.string,
            "file_format": dt.string,
            "encoding": dt.string,
            "sha256": dt.string,
            "started_at": IBIS_TYPES["timestamp"],
            "finished_at": IBIS_TYPES["timestamp"],
            "rows_in": dt.int64,
            "loaded": dt.int64,
            "inserted": dt.int64,
            "updated": dt.int64,
            "unchanged": dt.int64,
            "rejected": dt.int64,
        }
    ),
    "ingest_rejects": ibis.schema(
        {
            "run_id": dt.int64,
            "file": dt.string,
            "table_name": dt.string,
            "row_number": dt.int64,
            "column_name": dt.string,
            "reason": dt.string,
            "value": dt.string,
        }
    ),
    # one row per merged-away customer; a merge (one group) shares its merge_id
    "customer_merges": ibis.schema(
        {
            "merge_id": dt.int64,
            "merged_at": IBIS_TYPES["timestamp"],
            "survivor_id": dt.string,
            "merged_id": dt.string,
            "match_on": dt.string,
            "merged_row": dt.string,
            "survivor_before": dt.string,
            "survivor_after": dt.string,
            "repointed": dt.string,
            "repointed_rows": dt.int64,
            "undone_at": IBIS_TYPES["timestamp"],
        }
    ),
}

#: System tables that stay in the warehouse: the published snapshot leaves them out
#: (:func:`crmkit.db.staging`). ``customer_merges`` keeps merged customers' original rows with
#: their personal data in clear, and no page reads it.
WAREHOUSE_ONLY: frozenset[str] = frozenset({"customer_merges"})

#: Personal data in the tables ``crmkit publish`` computes (and in the system tables), masked
#: in the dashboard snapshot like the warehouse's ``pii`` columns (``crmkit.privacy``): texts
#: and terms taken from ``pii="text"`` columns; a duplicate group's shared phone, email or name
#: and a rejected cell (which may be personal data in the wrong column of a shifted file) keep
#: only their first character (``"name"``), whatever they hold.
DERIVED_PII: dict[str, dict[str, PiiKind]] = {
    "need_texts": {"text": "text"},
    "need_mentions": {"evidence": "text"},
    "need_clusters": {"top_terms": "text", "example": "text"},
    "winback_attempts": {"topic": "text"},
    "quality_duplicates": {"shared_value": "name"},
    "ingest_rejects": {"value": "name"},
}


def check_as_of(as_of: datetime) -> datetime:
    """Return ``as_of`` if it is a naive ``datetime`` (the warehouse stores naive local times),
    else raise a clear error saying how to pass one."""
    if not isinstance(as_of, datetime):
        raise TypeError(
            f"as_of must be a datetime, got {type(as_of).__name__} {as_of!r}; "
            "pass e.g. datetime(2026, 9, 30, 23, 59, 59)"
        )
    if as_of.tzinfo is not None:
        raise ValueError(
            f"as_of {as_of!r} has a time zone; the warehouse stores naive local times, "
            "pass as_of.replace(tzinfo=None)"
        )
    return as_of


def table(name: str) -> Table:
    """Return the declaration of table ``name``, with a clear error for unknown names."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown table {name!r}; expected one of: {', '.join(TABLES)}") from None


def describe() -> list[dict[str, object]]:
    """One row per column of every data table: the data dictionary, for docs and dashboards.

    ``in_file`` says whether a file must have the column (``required``) or may leave it out
    (``optional``); ``if_missing`` what ingest stores then (see :meth:`Table.if_missing`);
    ``headers`` every header spelling ingest accepts for it (name, Chinese and English labels,
    aliases), in declared order.

    Examples
    --------
    >>> status = next(r for r in describe() if (r["table"], r["column"]) == ("orders", "status"))
    >>> status["in_file"], status["if_missing"], status["headers"]
    ('optional', 'completed', ('status', '订单状态', 'Status', '状态'))
    """
    rows: list[dict[str, object]] = []
    for t in TABLES.values():
        needed = {c.name for c in t.file_columns}
        for c in t.columns:
            rows.append(
                {
                    "table": t.name,
                    "column": c.name,
                    "type": c.dtype,
                    "zh": c.zh,
                    "en": c.en,
                    "key": c.name == t.key,
                    "required": c.required,
                    "in_file": "required" if c.name in needed else "optional",
                    "if_missing": t.if_missing(c) or "",
                    "pii": c.pii or "",
                    "references": c.fk or "",
                    "allowed": ", ".join(c.allowed) if c.allowed else "",
                    "headers": tuple(dict.fromkeys((c.name, c.zh, c.en, *c.aliases))),
                }
            )
    return rows


#: The columns whose latest value is the data clock (:func:`crmkit.db.data_as_of`).
DATA_CLOCK: tuple[tuple[str, str], ...] = (
    ("orders", "order_ts"),
    ("customers", "updated_at"),
    ("customers", "created_at"),
)


def as_list(by: str | Sequence[str] | None) -> list[str]:
    """A ``by=`` argument as a list of column names (none: ``[]``).

    >>> as_list(None), as_list("region"), as_list(("a", "b"))
    ([], ['region'], ['a', 'b'])
    """
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def require_columns(t: ibis.Table, columns: Iterable[str], what: str) -> None:
    """Fail early, naming the columns ``t`` lacks and those it has.

    Raises
    ------
    ValueError
        ``"<what>: missing column(s) [...]; the table has [...]"``.
    """
    missing = [c for c in columns if c not in t.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; the table has {list(t.columns)}")
