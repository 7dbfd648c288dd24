"""The `corpusprep` command line (cli.py): the pipeline's commands and training's, in one."""
