from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "People and roles"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from accounts.roles import sync_role_permissions

        # Not limited to this app: permissions of apps migrated after ours exist only later.
        post_migrate.connect(sync_role_permissions, dispatch_uid="tenure_sync_role_permissions")
