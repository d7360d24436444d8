from django.core.management.base import BaseCommand, CommandError

from synnefo.astakos.logic import activation
from synnefo.astakos.logic.mail import MailError
from synnefo.astakos.logic.users import UserError
from synnefo.astakos.management.commands._common import get_user


class Command(BaseCommand):
    help = (
        "(Re)send the email-verification mail, with a new link, to each USER (numeric id, uuid or "
        "email). Older links of the user stop working. Fails for a user whose email is already verified."
    )

    def add_arguments(self, parser):
        parser.add_argument("users", nargs="+", metavar="USER")

    def handle(self, *args, **options):
        # Resolve every name first, so a typo sends nothing.
        targets = [get_user(identifier) for identifier in options["users"]]
        failed = []
        for user in targets:
            try:
                activation.send_verification(user)
            except (UserError, MailError) as exc:
                failed.append(f"user {user.pk}: {exc}")
                continue
            self.stdout.write(f"Sent the verification mail to user {user.pk} ({user.email})")
        if failed:
            raise CommandError("; ".join(failed))
