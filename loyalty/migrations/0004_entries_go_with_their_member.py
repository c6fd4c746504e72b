"""Ledger entries and redemptions go with their member when an account is deleted."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0003_entry_debt'),
    ]

    operations = [
        migrations.AlterField(
            model_name='ledgerentry',
            name='related_entry',
            field=models.ForeignKey(blank=True, help_text='For a reversal: the entry it undoes.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='reversals', to='loyalty.ledgerentry'),
        ),
        migrations.AlterField(
            model_name='redemption',
            name='refund_entry',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='refunded_redemption', to='loyalty.ledgerentry'),
        ),
        migrations.AlterField(
            model_name='redemption',
            name='spend_entry',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='redemption', to='loyalty.ledgerentry'),
        ),
    ]
