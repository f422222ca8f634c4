from django.apps import AppConfig


class VotingConfig(AppConfig):
    name = "ecabinet.voting"
    label = "voting"
    verbose_name = "Voting"

    def ready(self) -> None:
        # Vote results become part of each agenda item's section in drafted minutes.
        # Approved minutes are sealed when their approval commits.
        from ecabinet.voting import decisions, minutes_section  # noqa: F401
