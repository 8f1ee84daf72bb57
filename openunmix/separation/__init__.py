"""Separation: the Separator, long audio in bounded memory, and lists of files on many processes.

Modules:
    separator  -- :class:`Separator`: waveform to waveform with the target models of any architecture
    separate   -- files and tensors of any length, segmented, streamed to disk (``separate``, ``separate_file``)
    plan       -- where the segments lie and how many are separated as one batch
    background -- reading ahead and writing behind on threads (the file pipeline)
    parallel   -- work side by side on torch's CPU threads
    catalogue  -- lists of files on many processes: shares, resume, one record per input
    names      -- output folder names of a list of inputs (what tells colliding inputs apart)
    sharding   -- ``Shard`` (K/N, SLURM arrays, torchrun ranks) and the length-balanced split
    manifest   -- ``OUTDIR/manifest.jsonl``, appended to by many processes

Nothing is imported here: ``import openunmix.separation.separate`` loads only what it needs.
"""
