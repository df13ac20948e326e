"""The match report: pairs, clusters, suggested survivors and a draft support ticket, from Zoho exports.

This is step 2 of the seed's fix ("build a match list") done by the matcher instead of a spreadsheet.
Everything is computed in memory from the two exports and written as a whole or not at all:

- :mod:`.build`: :func:`~.build.build_report` normalises and matches the records, orders the pairs and
  clusters them into a :class:`~.model.MatchReport` (:mod:`.model`: the pairs and their patterns);
- :mod:`.clusters`: the clusters of duplicates, the copies to keep and the sync links to repair;
- :mod:`.csv_files`, :mod:`.summary` and :mod:`.ticket`: ``pairs.csv`` and ``clusters.csv``,
  ``summary.md``, ``support-ticket.md`` (:mod:`.wording`: what the files say alike);
- :mod:`.output`: :func:`~.output.write_report` writes the four files into a temporary folder beside
  the output and renames it into place.
"""
