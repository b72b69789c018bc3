"""Hash banks: lists of hashes of known media (PDQ for pictures and frames, vPDQ for video, exact file hashes),
each with a policy, matched through an index and exchanged in the formats Meta's ThreatExchange tools read."""
