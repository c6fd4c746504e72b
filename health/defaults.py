"""The health profiles Tenure ships (docs/domain/health-scores.md): Standard for every account
and Onboarding for accounts younger than 90 days. Created by migration 0002 and, when no
profile exists at all (a flushed test database), again after migrate."""

from decimal import Decimal

STAGE_SCORES = {
    "awareness": 50,
    "conversion": 50,
    "purchase": 60,
    "onboarding": 60,
    "renewal": 70,
    "loyalty": 100,
}

# (group, weight, [(kind, weight, mapping, options)])
STANDARD = [
    (
        "Activity",
        25,
        [
            ("days_since_activity", 2, "linear", {"worst": 30, "best": 0}),
            ("active_contacts", 1, "linear", {"worst": 0, "best": 5}),
        ],
    ),
    (
        "Usage",
        25,
        [
            ("usage_trend", 2, "linear", {"worst": -40, "best": 10}),
            ("usage_breadth", 1, "linear", {"worst": 0, "best": 5}),
            ("seats_used", 1, "linear", {"worst": 20, "best": 80}),
        ],
    ),
    (
        "Voice of the customer",
        20,
        [
            ("nps_latest", 2, "bands", {"bands": [[6, 0], [8, 60]], "above": 100}),
            ("csat_average", 1, "linear", {"worst": 1, "best": 5}),
            ("open_tickets", 1, "bands", {"bands": [[0, 100], [2, 70], [5, 30]], "above": 0}),
            ("oldest_open_ticket_days", 1, "linear", {"worst": 30, "best": 0}),
        ],
    ),
    (
        "Billing",
        20,
        [
            ("failed_payments", 2, "bands", {"bands": [[0, 100], [1, 40]], "above": 0}),
            ("card_expiry_days", 1, "bands", {"bands": [[0, 0], [30, 40]], "above": 100}),
        ],
    ),
    (
        "Relationship",
        10,
        [
            ("csm_sentiment", 1, "linear", {"worst": 0, "best": 100}),
            ("lifecycle_stage", 1, "choices", {"choices": STAGE_SCORES}),
        ],
    ),
]

ONBOARDING = [
    (
        "Activity",
        40,
        [
            ("days_since_activity", 2, "linear", {"worst": 14, "best": 0}),
            ("active_contacts", 1, "linear", {"worst": 0, "best": 3}),
        ],
    ),
    (
        "Usage",
        30,
        [
            ("usage_breadth", 1, "linear", {"worst": 0, "best": 4}),
        ],
    ),
    (
        "Voice of the customer",
        15,
        [
            ("csat_average", 1, "linear", {"worst": 1, "best": 5}),
            ("open_tickets", 1, "bands", {"bands": [[0, 100], [2, 70], [5, 30]], "above": 0}),
        ],
    ),
    (
        "Billing",
        15,
        [
            ("failed_payments", 1, "bands", {"bands": [[0, 100], [1, 40]], "above": 0}),
        ],
    ),
]


def profiles_create(Profile, Group, Measure, using: str = "default") -> None:
    """Create the shipped profiles with the given model classes (historical ones in the data
    migration, the real ones after a flush)."""
    for name, description, priority, is_default, age, groups in [
        ("Standard", "Every account not in a more specific segment.", 100, True, None, STANDARD),
        (
            "Onboarding",
            "Accounts younger than 90 days: activity and breadth count most.",
            10,
            False,
            90,
            ONBOARDING,
        ),
    ]:
        profile = Profile.objects.using(using).create(
            name=name,
            description=description,
            priority=priority,
            is_default=is_default,
            max_account_age_days=age,
        )
        for order, (group_name, group_weight, measures) in enumerate(groups):
            group = Group.objects.using(using).create(
                profile=profile, name=group_name, weight=Decimal(group_weight), order=order
            )
            for kind, weight, mapping, options in measures:
                Measure.objects.using(using).create(
                    group=group,
                    kind=kind,
                    weight=Decimal(weight),
                    mapping=mapping,
                    worst=options.get("worst"),
                    best=options.get("best"),
                    bands=options.get("bands", []),
                    above=options.get("above", 0),
                    choices=options.get("choices", {}),
                )


def profiles_ensure(sender=None, using: str = "default", **kwargs) -> None:
    """post_migrate: put the shipped profiles back when there is no profile at all."""
    from health.models import HealthProfile, Measure, MeasureGroup

    if not HealthProfile.objects.using(using).exists():
        profiles_create(HealthProfile, MeasureGroup, Measure, using=using)


# The signal rules Tenure ships (docs/domain/health.md): every one enabled, editable in the
# admin. (kind, severity, threshold, window days, event types, bands)
SIGNAL_RULES = [
    ("inactive", "high", 30, 30, ["login"], []),
    ("usage_drop", "medium", 40, 30, [], []),
    ("detractor", "high", 6, 90, [], []),
    ("low_csat", "medium", 2, 90, [], []),
    ("low_ces", "medium", 3, 90, [], []),
    ("card_expiring", "low", 30, 30, [], []),
    ("failed_payment", "high", None, 30, ["payment_failed"], []),
    # Our own event names, and the ones Segment's naming guide would give the same actions.
    ("data_export", "medium", None, 7, ["data_export", "Data Exported"], []),
    ("cancel_page", "high", None, 7, ["cancel_page_visit", "Cancel Page Viewed"], []),
    ("renewal_at_risk", "high", 90, 30, [], ["red", "yellow"]),
    ("stale_ticket", "medium", 14, 30, [], []),
    ("no_csm_touch", "low", 45, 30, [], []),
    ("expansion", "low", 20, 90, [], []),
]


def signal_rules_create(Rule, *, using: str = "default") -> None:
    """Add the shipped rule of every signal that has none; an edited rule is left as it is."""
    have = set(Rule.objects.using(using).values_list("kind", flat=True))
    Rule.objects.using(using).bulk_create(
        [
            Rule(
                kind=kind,
                severity=severity,
                threshold=None if threshold is None else Decimal(threshold),
                window_days=window,
                event_types=types,
                bands=bands,
            )
            for kind, severity, threshold, window, types, bands in SIGNAL_RULES
            if kind not in have
        ]
    )


def signal_rules_ensure(sender=None, using: str = "default", **kwargs) -> None:
    """post_migrate: a flushed test database gets the shipped rules back."""
    from health.models import SignalRule

    signal_rules_create(SignalRule, using=using)


# The playbooks Tenure ships (docs/domain/playbooks.md), editable in the admin. Each:
# (name, description, trigger, options, steps); a step is ("task", days, title, body) or
# ("email", days, name, {language: (subject, body)}). Placeholders: {contact_name},
# {account_name}, {csm_name}.
PLAYBOOKS = [
    (
        "We miss you",
        "An account went quiet: a friendly nudge, and a call from its CSM.",
        "alert_opened",
        {"alert_kind": "inactive"},
        [
            ("task", 2, "Call {account}: no login for a while", "Find out what stalled them."),
            (
                "email",
                0,
                "We miss you",
                {
                    "en": (
                        "We miss you at {account_name}",
                        "Hi {contact_name},\n\nWe haven't seen your team in a while. Is there "
                        "anything we can help with? Just reply to this email.\n\n{csm_name}",
                    ),
                    "nb": (
                        "Vi savner dere i {account_name}",
                        "Hei {contact_name},\n\nDet er en stund siden vi har sett teamet deres. "
                        "Er det noe vi kan hjelpe med? Bare svar på denne e-posten.\n\n{csm_name}",
                    ),
                    "sv": (
                        "Vi saknar er på {account_name}",
                        "Hej {contact_name},\n\nDet var ett tag sedan vi såg ert team. Finns det "
                        "något vi kan hjälpa till med? Svara bara på det här mejlet.\n\n{csm_name}",
                    ),
                    "zh-hans": (
                        "{account_name}，我们想念您",
                        "{contact_name}，您好：\n\n我们已经有一段时间没有看到您的团队了。"
                        "有什么我们可以帮忙的吗？直接回复这封邮件即可。\n\n{csm_name}",
                    ),
                    "ru": (
                        "Мы скучаем по {account_name}",
                        "Здравствуйте, {contact_name}!\n\nВаша команда давно не заходила к нам. "
                        "Можем ли мы чем-то помочь? Просто ответьте на это письмо.\n\n{csm_name}",
                    ),
                },
            ),
        ],
    ),
    (
        "Welcome back",
        "An inactive account is active again: say so, and check in a week later.",
        "alert_cleared",
        {"alert_kind": "inactive"},
        [
            (
                "email",
                0,
                "Welcome back",
                {
                    "en": (
                        "Welcome back, {account_name}",
                        "Hi {contact_name},\n\nGood to see your team back. If anything changed "
                        "on your side, tell us and we'll help you get the most out of it."
                        "\n\n{csm_name}",
                    ),
                    "nb": (
                        "Velkommen tilbake, {account_name}",
                        "Hei {contact_name},\n\nHyggelig å se teamet deres tilbake. Har noe "
                        "endret seg hos dere, si fra, så hjelper vi dere å få mest mulig ut av "
                        "det.\n\n{csm_name}",
                    ),
                    "sv": (
                        "Välkommen tillbaka, {account_name}",
                        "Hej {contact_name},\n\nKul att se ert team tillbaka. Har något ändrats "
                        "hos er, säg till så hjälper vi er att få ut det mesta av det."
                        "\n\n{csm_name}",
                    ),
                    "zh-hans": (
                        "欢迎回来，{account_name}",
                        "{contact_name}，您好：\n\n很高兴再次见到您的团队。如果您那边有任何变化，"
                        "请告诉我们，我们会帮助您充分利用产品。\n\n{csm_name}",
                    ),
                    "ru": (
                        "С возвращением, {account_name}",
                        "Здравствуйте, {contact_name}!\n\nРады снова видеть вашу команду. Если у "
                        "вас что-то изменилось, расскажите нам — мы поможем извлечь из продукта "
                        "максимум.\n\n{csm_name}",
                    ),
                },
            ),
            ("task", 7, "Check in with {account} after their return", ""),
        ],
    ),
    (
        "Card expiry reminder",
        "The card on file expires soon: ask the billing contact to update it.",
        "alert_opened",
        {"alert_kind": "card_expiring"},
        [
            (
                "email",
                0,
                "Card expiry reminder",
                {
                    "en": (
                        "Your card for {account_name} expires soon",
                        "Hi {contact_name},\n\nThe card we have on file for {account_name} "
                        "expires soon. Please update it in your billing settings so your service "
                        "continues without interruption.\n\n{csm_name}",
                    ),
                    "nb": (
                        "Kortet for {account_name} utløper snart",
                        "Hei {contact_name},\n\nKortet vi har registrert for {account_name} "
                        "utløper snart. Oppdater det i faktureringsinnstillingene, så fortsetter "
                        "tjenesten uten avbrudd.\n\n{csm_name}",
                    ),
                    "sv": (
                        "Kortet för {account_name} går snart ut",
                        "Hej {contact_name},\n\nKortet vi har registrerat för {account_name} går "
                        "snart ut. Uppdatera det i faktureringsinställningarna så fortsätter "
                        "tjänsten utan avbrott.\n\n{csm_name}",
                    ),
                    "zh-hans": (
                        "{account_name} 的银行卡即将过期",
                        "{contact_name}，您好：\n\n{account_name} 登记的银行卡即将过期。"
                        "请在账单设置中更新，以免服务中断。\n\n{csm_name}",
                    ),
                    "ru": (
                        "Срок действия карты {account_name} скоро истекает",
                        "Здравствуйте, {contact_name}!\n\nСрок действия карты, указанной для "
                        "{account_name}, скоро истекает. Обновите её в настройках оплаты, чтобы "
                        "сервис работал без перерывов.\n\n{csm_name}",
                    ),
                },
            ),
        ],
    ),
    (
        "Failed-payment dunning",
        "A payment failed: a polite note now, and a CSM check three days later.",
        "alert_opened",
        {"alert_kind": "failed_payment"},
        [
            (
                "email",
                0,
                "Failed payment",
                {
                    "en": (
                        "Your payment for {account_name} did not go through",
                        "Hi {contact_name},\n\nYour latest payment for {account_name} did not "
                        "go through. Please check your payment details in your billing "
                        "settings; we'll try again automatically.\n\n{csm_name}",
                    ),
                    "nb": (
                        "Betalingen for {account_name} gikk ikke gjennom",
                        "Hei {contact_name},\n\nDen siste betalingen for {account_name} gikk "
                        "ikke gjennom. Sjekk betalingsopplysningene i "
                        "faktureringsinnstillingene; vi prøver igjen automatisk.\n\n{csm_name}",
                    ),
                    "sv": (
                        "Betalningen för {account_name} gick inte igenom",
                        "Hej {contact_name},\n\nDen senaste betalningen för {account_name} gick "
                        "inte igenom. Kontrollera betalningsuppgifterna i "
                        "faktureringsinställningarna; vi försöker igen automatiskt."
                        "\n\n{csm_name}",
                    ),
                    "zh-hans": (
                        "{account_name} 的付款未成功",
                        "{contact_name}，您好：\n\n{account_name} 最近一笔付款未成功。"
                        "请在账单设置中检查付款信息，我们会自动重试。\n\n{csm_name}",
                    ),
                    "ru": (
                        "Платёж {account_name} не прошёл",
                        "Здравствуйте, {contact_name}!\n\nПоследний платёж {account_name} не "
                        "прошёл. Проверьте платёжные данные в настройках оплаты — мы повторим "
                        "попытку автоматически.\n\n{csm_name}",
                    ),
                },
            ),
            ("task", 3, "Check the failed payment of {account} was fixed", ""),
        ],
    ),
    (
        "Detractor follow-up",
        "A detractor answer: thank them, and call within a day.",
        "alert_opened",
        {"alert_kind": "detractor"},
        [
            ("task", 1, "Call the detractor at {account}", "Listen first; agree a next step."),
            (
                "email",
                0,
                "Detractor follow-up",
                {
                    "en": (
                        "Thank you for your honest feedback",
                        "Hi {contact_name},\n\nThank you for telling us how we're doing. We "
                        "take it seriously and would like to hear more: may we call you this "
                        "week?\n\n{csm_name}",
                    ),
                    "nb": (
                        "Takk for ærlige tilbakemeldinger",
                        "Hei {contact_name},\n\nTakk for at du fortalte oss hvordan vi gjør det. "
                        "Vi tar det på alvor og vil gjerne høre mer: kan vi ringe deg denne "
                        "uken?\n\n{csm_name}",
                    ),
                    "sv": (
                        "Tack för din ärliga återkoppling",
                        "Hej {contact_name},\n\nTack för att du berättade hur vi gör ifrån oss. "
                        "Vi tar det på allvar och vill gärna höra mer: får vi ringa dig den här "
                        "veckan?\n\n{csm_name}",
                    ),
                    "zh-hans": (
                        "感谢您坦诚的反馈",
                        "{contact_name}，您好：\n\n感谢您告诉我们您的感受。我们非常重视，"
                        "也希望了解更多：本周方便给您打个电话吗？\n\n{csm_name}",
                    ),
                    "ru": (
                        "Спасибо за честный отзыв",
                        "Здравствуйте, {contact_name}!\n\nСпасибо, что рассказали, как мы "
                        "работаем. Мы относимся к этому серьёзно и хотим узнать больше: можно "
                        "позвонить вам на этой неделе?\n\n{csm_name}",
                    ),
                },
            ),
        ],
    ),
    (
        "Win-back offer",
        "A customer left: a week later, an offer to come back; a CSM call after two weeks.",
        "churned",
        {"churned_within_days": 30},
        [
            (
                "email",
                7,
                "Win-back offer",
                {
                    "en": (
                        "We'd love to have {account_name} back",
                        "Hi {contact_name},\n\nWe're sorry to see you go. If you'd like to give "
                        "us another try, reply to this email: we'll set you up again with a "
                        "month on us.\n\n{csm_name}",
                    ),
                    "nb": (
                        "Vi vil gjerne ha {account_name} tilbake",
                        "Hei {contact_name},\n\nVi er lei for at dere slutter. Vil dere gi oss "
                        "en ny sjanse, svar på denne e-posten: da setter vi dere opp igjen med "
                        "en gratis måned.\n\n{csm_name}",
                    ),
                    "sv": (
                        "Vi vill gärna ha tillbaka {account_name}",
                        "Hej {contact_name},\n\nVi är ledsna att ni slutar. Vill ni ge oss en ny "
                        "chans, svara på det här mejlet: då sätter vi upp er igen med en gratis "
                        "månad.\n\n{csm_name}",
                    ),
                    "zh-hans": (
                        "期待 {account_name} 回来",
                        "{contact_name}，您好：\n\n很遗憾您离开了。如果您愿意再给我们一次机会，"
                        "请回复这封邮件：我们将为您重新开通，并赠送一个月的免费使用。\n\n{csm_name}",
                    ),
                    "ru": (
                        "Мы будем рады возвращению {account_name}",
                        "Здравствуйте, {contact_name}!\n\nЖаль, что вы ушли. Если захотите дать "
                        "нам ещё один шанс, ответьте на это письмо: мы всё настроим заново и "
                        "подарим месяц бесплатно.\n\n{csm_name}",
                    ),
                },
            ),
            ("task", 14, "Win-back call to {account}", "Ask what would bring them back."),
        ],
    ),
    (
        "Onboarding check-in",
        "A new customer starts onboarding: a check-in email after a week, a call after two.",
        "stage_change",
        {"stage": "onboarding"},
        [
            (
                "email",
                7,
                "Onboarding check-in",
                {
                    "en": (
                        "How is onboarding going at {account_name}?",
                        "Hi {contact_name},\n\nYou've had a week with us. How is it going? If "
                        "anything is unclear, reply and we'll help you set it up.\n\n{csm_name}",
                    ),
                    "nb": (
                        "Hvordan går oppstarten hos {account_name}?",
                        "Hei {contact_name},\n\nDere har vært i gang en uke. Hvordan går det? "
                        "Er noe uklart, svar på e-posten, så hjelper vi dere i gang.\n\n{csm_name}",
                    ),
                    "sv": (
                        "Hur går uppstarten på {account_name}?",
                        "Hej {contact_name},\n\nNi har varit igång en vecka. Hur går det? Är "
                        "något oklart, svara på mejlet så hjälper vi er att komma igång."
                        "\n\n{csm_name}",
                    ),
                    "zh-hans": (
                        "{account_name} 的上手进展如何？",
                        "{contact_name}，您好：\n\n您已经使用一周了，进展如何？如有任何不清楚的地方，"
                        "请回复邮件，我们会帮您完成设置。\n\n{csm_name}",
                    ),
                    "ru": (
                        "Как проходит подключение {account_name}?",
                        "Здравствуйте, {contact_name}!\n\nПрошла неделя с начала работы. Как "
                        "успехи? Если что-то непонятно, ответьте на письмо — поможем всё "
                        "настроить.\n\n{csm_name}",
                    ),
                },
            ),
            ("task", 14, "Onboarding check-in call with {account}", ""),
        ],
    ),
]


def playbooks_create(Playbook, Step, Text, *, using: str = "default") -> None:
    """Add each shipped playbook that is missing by name; edited ones are left alone."""
    have = set(Playbook.objects.using(using).values_list("name", flat=True))
    for name, description, trigger, options, steps in PLAYBOOKS:
        if name in have:
            continue
        playbook = Playbook.objects.using(using).create(
            name=name, description=description, trigger=trigger, **options
        )
        for order, (kind, days, title, content) in enumerate(steps):
            if kind == "task":
                Step.objects.using(using).create(
                    playbook=playbook,
                    order=order,
                    kind=kind,
                    days_after=days,
                    title=title,
                    body=content,
                )
                continue
            step = Step.objects.using(using).create(
                playbook=playbook, order=order, kind=kind, days_after=days, title=title
            )
            Text.objects.using(using).bulk_create(
                Text(step=step, language=language, subject=subject, body=body)
                for language, (subject, body) in content.items()
            )


def playbooks_ensure(sender=None, using: str = "default", **kwargs) -> None:
    """post_migrate: a flushed test database gets the shipped playbooks back."""
    from health.models import Playbook, PlaybookEmailText, PlaybookStep

    if not Playbook.objects.using(using).exists():
        playbooks_create(Playbook, PlaybookStep, PlaybookEmailText, using=using)
