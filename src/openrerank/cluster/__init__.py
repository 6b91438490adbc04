"""Beyond one machine, on Ray: batch jobs on Ray Data (:mod:`.data`) and replicas on Ray
Serve (:mod:`.serve`), with the same engine and HTTP app. The only package that imports
Ray (the ``ray`` extra)."""
