"""What the demo survey history is made of: the surveys and campaigns, the keyword tags, what
customers write by mood and language, how follow-ups are closed, and how CSI criteria tend to
be rated."""

from __future__ import annotations

from surveys.models import SurveyKind

SURVEYS = [
    # slug, name, kind, send after a closed ticket
    ("nps", "Relationship NPS", SurveyKind.NPS, False),
    ("csat", "Support satisfaction (CSAT)", SurveyKind.CSAT, True),
    ("ces", "Customer effort (CES)", SurveyKind.CES, False),
    ("cli", "Customer Loyalty Index", SurveyKind.CLI, False),
    ("csi", "Customer Satisfaction Index", SurveyKind.CSI, False),
]

# Campaigns: (slug, name, repeat every N months, sample share, days the sends are spread over,
# first run this many days ago). NPS runs every quarter spread over the quarter, so there are
# answers in every month of the year.
CAMPAIGNS = [
    ("nps", "Quarterly NPS", 3, 1.0, 90, 360),
    ("ces", "Half-yearly effort check", 6, 0.5, 21, 330),
    ("cli", "Loyalty index", 6, 0.4, 14, 300),
    ("csi", "Annual satisfaction index", 12, 0.5, 30, 200),
]
# CSAT follows closed tickets; with no tickets in the data it runs as a campaign instead.
CSAT_FALLBACK = ("csat", "Support satisfaction check", 6, 0.4, 30, 340)

TAGS = {
    "Pricing": "price, prices, pricing, expensive, pris, prisen, priset, dyrt, цена, цену, цены, "
    "дорого, 价格, 贵",
    "Support": "support, supporten, kundestøtte, kundtjänst, поддержка, поддержки, поддержку, 客服",
    "Bugs": "bug, bugs, crash, crashes, error, feil, feilen, krasjer, bugg, buggar, kraschar, "
    "ошибка, ошибку, ошибки, падает, 错误, 崩溃",
    "Onboarding": "onboarding, setup, oppstart, oppstarten, introduktion, introduktionen, "
    "внедрение, внедрению, 上手",
    "Integrations": "integration, integrations, integrasjon, интеграции, интеграция, 集成",
}

# What customers write, by mood and language (the contact's locale).
COMMENTS: dict[str, dict[str, list[str]]] = {
    "good": {
        "en": [
            "Great product, the team loves it.",
            "Support answered within an hour and solved it. Thank you!",
            "Easy to use and reliable. Worth the price.",
            "The new reports save me hours every week.",
            "Onboarding was smooth and quick.",
        ],
        "nb": [
            "Flott produkt, teamet er veldig fornøyd.",
            "Supporten svarte innen en time og løste problemet. Takk!",
            "Enkelt å bruke og stabilt. Vel verdt prisen.",
            "De nye rapportene sparer meg for mange timer hver uke.",
            "Oppstarten gikk raskt og smertefritt.",
        ],
        "sv": [
            "Fantastisk produkt, hela teamet gillar det.",
            "Supporten svarade inom en timme och löste det. Tack!",
            "Lätt att använda och pålitligt. Väl värt priset.",
            "De nya rapporterna sparar mig flera timmar varje vecka.",
            "Introduktionen gick smidigt och snabbt.",
        ],
        "zh-hans": [
            "产品很棒，团队都很喜欢。",
            "客服一小时内就回复并解决了问题，谢谢！",
            "价格合理，简单好用又稳定。",
            "新的报表每周帮我节省好几个小时。",
            "上手很快，过程很顺利。",
        ],
        "ru": [
            "Отличный продукт, вся команда довольна.",
            "Поддержка ответила в течение часа и всё решила. Спасибо!",
            "Простой и надёжный сервис. Стоит своей цены.",
            "Новые отчёты экономят мне несколько часов в неделю.",
            "Внедрение прошло быстро и гладко.",
        ],
    },
    "middling": {
        "en": [
            "Good overall, but the price went up this year.",
            "Works fine. Some reports are slow to load.",
            "Decent, but we miss an integration with our CRM.",
            "Support is helpful but sometimes slow to answer.",
        ],
        "nb": [
            "Bra totalt sett, men prisen har gått opp i år.",
            "Fungerer greit. Noen rapporter laster sakte.",
            "Helt greit, men vi savner en integrasjon med CRM-systemet vårt.",
            "Supporten er hjelpsom, men svarer noen ganger sent.",
        ],
        "sv": [
            "Bra på det hela, men priset har gått upp i år.",
            "Fungerar bra. Vissa rapporter laddar långsamt.",
            "Okej, men vi saknar en integration med vårt CRM.",
            "Supporten är hjälpsam men svarar ibland långsamt.",
        ],
        "zh-hans": [
            "总体不错，但今年价格涨了。",
            "用起来还行，有些报表加载很慢。",
            "还可以，但我们希望能和我们的CRM集成。",
            "客服很热心，但有时回复比较慢。",
        ],
        "ru": [
            "В целом хорошо, но цена в этом году выросла.",
            "Работает нормально. Некоторые отчёты долго загружаются.",
            "Неплохо, но нам не хватает интеграции с нашей CRM.",
            "Поддержка помогает, но иногда отвечает медленно.",
        ],
    },
    "bad": {
        "en": [
            "Too expensive for what we get. We are reviewing the price before renewal.",
            "We keep hitting the same bug in the export and nobody fixes it.",
            "Support took a week to reply. Not acceptable.",
            "The app crashes when we import large files.",
            "Hard to set up, and the onboarding documentation is outdated.",
        ],
        "nb": [
            "Altfor dyrt for det vi får. Vi vurderer prisen før fornyelsen.",
            "Vi treffer den samme feilen i eksporten hele tiden, og ingen fikser den.",
            "Supporten brukte en uke på å svare. Ikke akseptabelt.",
            "Appen krasjer når vi importerer store filer.",
            "Vanskelig å sette opp, og dokumentasjonen for oppstart er utdatert.",
        ],
        "sv": [
            "Alldeles för dyrt för vad vi får. Vi ser över priset inför förnyelsen.",
            "Vi stöter hela tiden på samma bugg i exporten och ingen rättar den.",
            "Supporten tog en vecka att svara. Inte acceptabelt.",
            "Appen kraschar när vi importerar stora filer.",
            "Svårt att komma igång, och dokumentationen för introduktion är inaktuell.",
        ],
        "zh-hans": [
            "太贵了，性价比不高。续约前我们会重新评估价格。",
            "导出功能一直有同一个错误，没人修复。",
            "客服一周后才回复，无法接受。",
            "导入大文件时应用会崩溃。",
            "配置很难，上手文档也过时了。",
        ],
        "ru": [
            "Слишком дорого для того, что мы получаем. Перед продлением пересмотрим цену.",
            "Мы постоянно натыкаемся на одну и ту же ошибку в экспорте, и никто её не исправляет.",
            "Поддержка отвечала неделю. Это неприемлемо.",
            "Приложение падает при импорте больших файлов.",
            "Сложно настроить, а документация по внедрению устарела.",
        ],
    },
}
HANDLED_NOTES = [
    "Called the customer and walked through the issue; they are happy with the fix.",
    "Offered a discount at renewal; the customer accepted.",
    "Escalated the bug to engineering and shared the fix date with the customer.",
    "Booked a training session for their new admins.",
    "Apologised for the slow reply and set up a shared Slack channel.",
]
# How important each CSI criterion tends to be (1–10), and how the product does on it.
CSI_IMPORTANCE = {
    "price": 8.0,
    "service_quality": 7.0,
    "functionality": 8.5,
    "reliability": 9.0,
    "support": 7.0,
}
CSI_OFFSET = {"price": -0.8, "service_quality": 0.2, "functionality": 0.3, "reliability": 0.0}
