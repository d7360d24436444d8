from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from synnefo.astakos.logic import activation, tokens, users
from synnefo.astakos.logic.mail import MailError
from synnefo.astakos.management.commands._common import get_user


class Command(BaseCommand):
    help = "Modify a user. USER is a numeric id, a uuid or an email."

    def add_arguments(self, parser):
        parser.add_argument("user")
        admin = parser.add_mutually_exclusive_group()
        admin.add_argument("--set-admin", action="store_true", help="Make the user an administrator")
        admin.add_argument("--set-noadmin", action="store_true", help="Make the user a plain user")
        admin.add_argument("--type", choices=["ADMIN", "USER"], type=str.upper, help="Set the user type")
        active = parser.add_mutually_exclusive_group()
        active.add_argument("--set-active", action="store_true", help="Activate the account")
        active.add_argument("--set-inactive", action="store_true", help="Deactivate the account (revokes its tokens)")
        parser.add_argument("--inactive-reason", default="", help="Why the account is deactivated")
        password = parser.add_mutually_exclusive_group()
        password.add_argument("--password", help="Set this password (revokes the user's tokens)")
        password.add_argument("--renew-password", action="store_true", help="Set a random password and print it")
        parser.add_argument("--renew-token", action="store_true", help="Issue a new main token and print it")
        parser.add_argument("--verify", action="store_true", help="Mark the email as verified, then apply the activation policy as the link would")
        moderation = parser.add_mutually_exclusive_group()
        moderation.add_argument("--accept", action="store_true", help="Accept the account (moderation); mails the welcome if it becomes active")
        moderation.add_argument("--reject", action="store_true", help="Reject the account (moderation); it cannot log in, its tokens are revoked and the user is told by mail")
        parser.add_argument("--reject-reason", default="", help="Why the account is rejected")
        parser.add_argument("--set-email", help="Change the login email")
        parser.add_argument("--first-name")
        parser.add_argument("--last-name")
        parser.add_argument("--affiliation")

    @transaction.atomic
    def handle(self, *args, **options):
        if options["reject_reason"] and not options["reject"]:
            raise CommandError("--reject-reason goes with --reject")
        user = get_user(options["user"])
        changed = []
        try:
            self._change(user, options, changed)
        except (users.UserError, MailError) as exc:
            raise CommandError(str(exc)) from None
        if not changed:
            raise CommandError("Nothing to change; see --help")
        self.stdout.write(f"User {user.pk} ({user.email}): {', '.join(changed)}")

    def _change(self, user, options, changed):
        if options["set_email"]:
            users.set_email(user, options["set_email"])
            changed.append("email")
        if options["first_name"] is not None or options["last_name"] is not None:
            users.set_names(user, options["first_name"], options["last_name"])
            changed.append("name")
        if options["affiliation"] is not None:
            user.affiliation = options["affiliation"]
            user.save(update_fields=["affiliation", "updated"])
            changed.append("affiliation")
        if options["set_admin"] or options["type"] == "ADMIN":
            users.set_admin(user, True)
            changed.append("type ADMIN")
        if options["set_noadmin"] or options["type"] == "USER":
            users.set_admin(user, False)
            changed.append("type USER")
        # Verification and moderation follow the activation flow (policy, mails, audit trail).
        if options["verify"]:
            activation.verify(user)
            changed.append("email verified" + (", activated" if user.is_active else ""))
        if options["accept"]:
            # With --verify, the activation policy may have accepted the account already.
            if not (options["verify"] and user.moderated and not user.is_rejected):
                activation.accept(user)
            changed.append("accepted" + ("" if user.is_active else " (active once the email is verified)"))
        if options["reject"]:
            activation.reject(user, options["reject_reason"])
            changed.append("rejected")
        if options["set_active"]:
            users.activate(user)
            changed.append("activated")
        if options["set_inactive"]:
            users.deactivate(user, options["inactive_reason"])
            changed.append("deactivated")
        if options["password"] or options["renew_password"]:
            password = options["password"] or users.random_password()
            users.set_password(user, password)
            changed.append("password (tokens revoked)")
            if options["renew_password"]:
                self.stdout.write(f"password: {password}")
        if options["renew_token"]:
            token, _ = tokens.renew_main_token(user)
            changed.append("main token")
            self.stdout.write(f"token: {token}")
