from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from synnefo.astakos.logic import activation, audit, terms, tokens, users
from synnefo.astakos.logic.mail import MailError
from synnefo.astakos.management.commands._common import get_user


class Command(BaseCommand):
    help = ("Modify a user. USER is a numeric id, a uuid or an email. Every change is recorded in the "
            "audit trail (actor snf-manage, with the operating-system user).")

    def add_arguments(self, parser):
        parser.add_argument("user")
        admin = parser.add_mutually_exclusive_group()
        admin.add_argument("--set-admin", action="store_true", help="Make the user an administrator")
        admin.add_argument("--set-noadmin", action="store_true", help="Make the user a plain user")
        admin.add_argument("--type", choices=["ADMIN", "USER"], type=str.upper,
                           help="Set the user type: ADMIN (may use the admin pages) or USER")
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
        parser.add_argument(
            "--sign-terms", action="store_true", help="Mark the newest terms of use as accepted by the user"
        )

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
        def done(label, action, **detail):
            changed.append(label)
            audit.record_command(action, user, **detail)

        if options["set_email"]:
            old = user.email
            users.set_email(user, options["set_email"])
            done("email", "user.set_email", old=old, new=user.email)
        if options["first_name"] is not None or options["last_name"] is not None:
            old = user.realname
            users.set_names(user, options["first_name"], options["last_name"])
            done("name", "user.set_name", old=old, new=user.realname)
        if options["affiliation"] is not None:
            old = user.affiliation
            user.affiliation = options["affiliation"]
            user.save(update_fields=["affiliation", "updated"])
            done("affiliation", "user.set_affiliation", old=old, new=user.affiliation)
        for admin, wanted in ((True, options["set_admin"] or options["type"] == "ADMIN"),
                              (False, options["set_noadmin"] or options["type"] == "USER")):
            if wanted:
                old = user.user_type
                users.set_admin(user, admin)
                done(f"type {user.user_type}", "user.set_admin" if admin else "user.unset_admin",
                     old={"type": old}, new={"type": user.user_type})
        state_changes = [
            # Verification and moderation follow the activation flow (policy, mails).
            ("verify", "email verified", "user.verify_email", lambda: activation.verify(user), {}),
            # With --verify, the activation policy may have accepted the account already.
            ("accept", "accepted", "user.accept",
             lambda: None if (options["verify"] and user.moderated and not user.is_rejected) else activation.accept(user), {}),
            ("reject", "rejected", "user.reject", lambda: activation.reject(user, options["reject_reason"]),
             {"reason": options["reject_reason"]}),
            ("set_active", "activated", "user.activate", lambda: users.activate(user), {}),
            ("set_inactive", "deactivated", "user.deactivate", lambda: users.deactivate(user, options["inactive_reason"]),
             {"reason": options["inactive_reason"]}),
        ]
        for option, label, action, change, detail in state_changes:
            if options[option]:
                old = user.status
                was_active = user.is_active
                change()
                if option in ("verify", "accept") and user.is_active and not was_active:
                    label += ", activated"
                done(label, action, old={"status": old}, new={"status": user.status}, **detail)
        if options["sign_terms"]:
            old = user.signed_terms_id
            signed = terms.sign(user)
            done(f"accepted terms version {signed.pk}", "user.sign_terms", old={"terms": old}, new={"terms": signed.pk})
        if options["password"] or options["renew_password"]:
            password = options["password"] or users.random_password()
            users.set_password(user, password)
            done("password (tokens revoked)", "user.set_password")  # never the password itself
            if options["renew_password"]:
                self.stdout.write(f"password: {password}")
        if options["renew_token"]:
            token, _ = tokens.renew_main_token(user)
            done("main token", "user.renew_token")  # never the token itself
            self.stdout.write(f"token: {token}")
