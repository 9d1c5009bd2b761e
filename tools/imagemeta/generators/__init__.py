"""One parser module per family of writers: ``comfyui`` (graphs → fields) and ``others`` (JSON writers).

A1111-style text lives in ``tools/imagemeta/a1111.py`` because Forge, SD.Next, Civitai and several
saver nodes write that format too.
"""
