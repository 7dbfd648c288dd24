"""A local Hugging Face `datasets` dataset: a folder saved with `save_to_disk`, or data files
read by a datasets builder (json, csv, parquet, text). Nothing is downloaded."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from pipeline.errors import InputError
from pipeline.readers.base import Head, Item, Reader, RecordFields, Source, record_to_doc


class SavedDatasetsReader(Reader):
    name = "datasets"
    description = "a local datasets dataset (a save_to_disk folder, or data files with input.datasets_builder)"
    packages = ("datasets",)
    reasons = {"missing_text": "a row without the text field", "invalid_text": "a text that is not a string"}
    whole_folder = True

    @dataclass(frozen=True)
    class Config(RecordFields):
        split: str = field(default="train", metadata={"help": "split of a saved DatasetDict"})
        datasets_builder: str = field(default="", metadata={
            "help": "with format=datasets and data files: the datasets builder (json, csv, parquet, text)"})

    @classmethod
    def claims(cls, path: Path, head: Head) -> bool:
        return False  # a folder, never a file (claims_folder)

    @classmethod
    def claims_folder(cls, folder: Path) -> bool:
        return any((folder / f).exists() for f in ("dataset_info.json", "dataset_dict.json", "state.json"))

    def read(self, src: Source) -> Iterator[Item]:
        import datasets

        cfg = self.config
        path = src.paths[0]
        try:
            if cfg.datasets_builder:
                files = [str(f) for f in sorted(Path(path).glob("*"))] if Path(path).is_dir() else path
                ds = datasets.load_dataset(cfg.datasets_builder, data_files=files, split=cfg.split)
            else:
                ds = datasets.load_from_disk(path)
                if isinstance(ds, datasets.DatasetDict):
                    if cfg.split not in ds:
                        raise InputError(f"{path}: no split {cfg.split!r} (splits: "
                                         f"{', '.join(ds)}); set input.split")
                    ds = ds[cfg.split]
        except InputError:
            raise
        except Exception as e:  # datasets raises many types for an unreadable folder
            raise InputError(f"{path}: not a loadable local datasets dataset ({type(e).__name__}: "
                             f"{e}); save it with Dataset.save_to_disk or set input.datasets_builder") from None
        if cfg.text_field not in ds.column_names:
            raise InputError(f"{path}: no column {cfg.text_field!r} (columns: "
                             f"{', '.join(ds.column_names)}); set input.text_field")
        row = 0
        for batch in ds.iter(batch_size=1024):
            keys = list(batch)
            for i in range(len(batch[cfg.text_field])):
                row += 1
                yield record_to_doc({k: batch[k][i] for k in keys}, cfg, f"{src.label}:{row}")
