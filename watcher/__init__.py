"""trialwatch: watch ClinicalTrials.gov records and tell people, in plain English, what changed."""

__version__ = "0.1.0"
