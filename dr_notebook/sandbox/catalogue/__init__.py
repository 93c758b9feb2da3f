"""The demo catalogue: one folder per template (written the way DataRobot's templates are) and
``loader`` (reads them; generates synthetic templates for scale tests)."""
