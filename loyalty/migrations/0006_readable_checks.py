"""Loyalty checks the admin can trip now speak plain language (violation_error_message), and
an empty value no longer passes the checks a reward, or a revenue rule, needs one for (SQL lets
NULL through a CHECK)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0005_expiry_warning'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='earningrule',
            name='loyalty_rule_revenue_needs_rate',
        ),
        migrations.RemoveConstraint(
            model_name='reward',
            name='loyalty_reward_discount_is_percent',
        ),
        migrations.RemoveConstraint(
            model_name='reward',
            name='loyalty_reward_needs_value',
        ),
        migrations.AddConstraint(
            model_name='earningrule',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'revenue'), _negated=True), models.Q(('points_per_unit__gt', 0), ('points_per_unit__isnull', False)), _connector='OR'), name='loyalty_rule_revenue_needs_rate', violation_error_message='A revenue rule needs its points per unit of revenue (above 0).'),
        ),
        migrations.AddConstraint(
            model_name='reward',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'discount'), _negated=True), models.Q(('value__gt', 0), ('value__isnull', False), ('value__lte', 100)), _connector='OR'), name='loyalty_reward_discount_is_percent', violation_error_message='A discount needs its percentage: above 0 and at most 100.'),
        ),
        migrations.AddConstraint(
            model_name='reward',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind__in', ['credit', 'free_month', 'training']), _negated=True), models.Q(('value__gt', 0), ('value__isnull', False)), _connector='OR'), name='loyalty_reward_needs_value', violation_error_message="This kind of reward needs its value: the credit's amount, the free months or the training hours (above 0)."),
        ),
        migrations.AlterConstraint(
            model_name='earningrule',
            name='loyalty_rule_event_needs_type',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'event'), _negated=True), models.Q(('event_type', ''), _negated=True), _connector='OR'), name='loyalty_rule_event_needs_type', violation_error_message='An event rule needs the event type it pays for.'),
        ),
        migrations.AlterConstraint(
            model_name='earningrule',
            name='loyalty_rule_points_positive',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['revenue', 'manual']), ('points__gt', 0), _connector='OR'), name='loyalty_rule_points_positive', violation_error_message='Give the points this rule pays (above 0).'),
        ),
        migrations.AlterConstraint(
            model_name='earningrule',
            name='loyalty_rule_cap_needs_period',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('cap_count__isnull', True), ('cap_points__isnull', True)), models.Q(('cap_period', ''), _negated=True), _connector='OR'), name='loyalty_rule_cap_needs_period', violation_error_message='A cap needs the period it counts over (day, week, month, year or lifetime).'),
        ),
        migrations.AlterConstraint(
            model_name='earningrule',
            name='loyalty_rule_window_ordered',
            constraint=models.CheckConstraint(condition=models.Q(('active_from__isnull', True), ('active_until__isnull', True), ('active_until__gt', models.F('active_from')), _connector='OR'), name='loyalty_rule_window_ordered', violation_error_message='The rule must end after it starts.'),
        ),
        migrations.AlterConstraint(
            model_name='loyaltyprogram',
            name='loyalty_program_point_value_non_negative',
            constraint=models.CheckConstraint(condition=models.Q(('point_value__gte', 0)), name='loyalty_program_point_value_non_negative', violation_error_message="A point's value cannot be negative."),
        ),
        migrations.AlterConstraint(
            model_name='loyaltyprogram',
            name='loyalty_program_expiry_months_positive',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('expiry_policy', 'months'), _negated=True), ('expiry_months__gte', 1), _connector='OR'), name='loyalty_program_expiry_months_positive', violation_error_message='Points that expire after some months need the number of months (1 or more).'),
        ),
        migrations.AlterConstraint(
            model_name='reward',
            name='loyalty_reward_cost_positive',
            constraint=models.CheckConstraint(condition=models.Q(('cost_points__gt', 0)), name='loyalty_reward_cost_positive', violation_error_message='A reward costs at least 1 point.'),
        ),
        migrations.AlterConstraint(
            model_name='reward',
            name='loyalty_reward_credit_needs_currency',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'credit'), _negated=True), ('currency__regex', '^[A-Z]{3}$'), _connector='OR'), name='loyalty_reward_credit_needs_currency', violation_error_message='An invoice credit needs its currency as a three-letter code, e.g. USD.'),
        ),
        migrations.AlterConstraint(
            model_name='reward',
            name='loyalty_reward_early_access_needs_feature',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'early_access'), _negated=True), models.Q(('feature', ''), _negated=True), _connector='OR'), name='loyalty_reward_early_access_needs_feature', violation_error_message='Early access needs the feature it opens.'),
        ),
        migrations.AlterConstraint(
            model_name='tier',
            name='loyalty_tier_multiplier_at_least_one',
            constraint=models.CheckConstraint(condition=models.Q(('multiplier__gte', 1)), name='loyalty_tier_multiplier_at_least_one', violation_error_message="A tier's earn multiplier is 1 or more (1 = no bonus)."),
        ),
    ]
