"""Stage 5, the assessment: the findings of a run judged as of a time (:mod:`.assess`), the
requirement roll-up to the frameworks (:mod:`.frameworks`), the maturity score
(:mod:`.maturity`), and the headline and action items shown on top of them (:mod:`.headline`)."""
