from synnefo.astakos.models import User
from synnefo.common.management import ListCommand


class Command(ListCommand):
    help = "List users."

    FIELDS = {
        "id": (lambda u: u.pk, "Numeric id"),
        "uuid": (lambda u: u.uuid, "Permanent id, the account name in every service"),
        "email": (lambda u: u.email, "Login email"),
        "realname": (lambda u: f"{u.first_name} {u.last_name}".strip(), "First and last name"),
        "affiliation": (lambda u: u.affiliation, "Affiliation"),
        "active": (lambda u: u.is_active, "Whether the account is active"),
        "admin": (lambda u: u.is_superuser, "Whether the user is an administrator (type ADMIN)"),
        "type": (lambda u: u.user_type, "ADMIN or USER"),
        "verified": (lambda u: u.email_verified, "Whether the email is verified"),
        "moderated": (lambda u: u.moderated, "Whether the account passed moderation"),
        "status": (lambda u: u.status, "Account state in words"),
        "joined": (lambda u: u.date_joined.strftime("%Y-%m-%d %H:%M"), "Date joined (UTC)"),
        "providers": (lambda u: ",".join(sorted(p.module for p in u.auth_providers.all())), "Login modules (auth providers)"),
    }
    DEFAULT_FIELDS = ("id", "uuid", "email", "realname", "active", "admin", "status")
    FILTERS = {
        "id": "pk",
        "uuid": "uuid",
        "email": "email__iexact",
        "active": "is_active",
        "admin": "is_superuser",
        "verified": "email_verified",
        "moderated": "moderated",
        "rejected": "is_rejected",
        "provider": "auth_providers__module",
    }

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--active", action="store_true", help="Only active users")
        parser.add_argument("--inactive", action="store_true", help="Only inactive users")
        parser.add_argument("--admin", action="store_true", help="Only administrators")
        parser.add_argument("--pending-moderation", action="store_true", help="Only users waiting for moderation")
        parser.add_argument("--pending-verification", action="store_true", help="Only users with an unverified email")
        parser.add_argument("--auth-providers", action="store_true", help="Also show each user's login modules")

    def handle(self, *args, **options):
        if options["auth_providers"]:
            fields = options["output"].split(",") if options["output"] else list(self.DEFAULT_FIELDS)
            options["output"] = ",".join(fields if "providers" in fields else fields + ["providers"])
        super().handle(*args, **options)

    def get_queryset(self, options):
        users = User.objects.order_by("pk").prefetch_related("auth_providers")
        if options["active"]:
            users = users.filter(is_active=True)
        if options["inactive"]:
            users = users.filter(is_active=False)
        if options["admin"]:
            users = users.filter(is_superuser=True)
        if options["pending_moderation"]:
            users = users.filter(email_verified=True, moderated=False)
        if options["pending_verification"]:
            users = users.filter(email_verified=False)
        return users
