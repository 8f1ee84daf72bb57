"""Models by name or by folder: the model table, downloads, model folders and the hub.

Modules:
    hub      -- ``pretrained()``, ``load_separator()``: a model folder or a named model, ready to separate
    table    -- the model table: published models by name (``models.json``) and users' own tables
    download -- verified, cached, atomic downloads of model files
    folder   -- what every model folder shares: validated json and state-dict reading, ``separator.json``

Nothing is imported here (the architectures import :mod:`.folder`, and the hub imports the architectures).
"""
