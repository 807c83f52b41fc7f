"""Run inside .venv-datumaro: read a dataset with Datumaro, optionally relabel items, re-export.

Usage: python datumaro_script.py IN_PATH IN_FORMAT [OUT_PATH OUT_FORMAT ITEM_ID=LABEL ...]
Prints a JSON object {item_id: [label names]} of what Datumaro read.
"""

import json
import sys

import datumaro as dm
from datumaro.components.annotation import AnnotationType, Label


def main(argv):
    source, source_format = argv[0], argv[1]
    dataset = dm.Dataset.import_from(source, source_format)
    categories = dataset.categories()[AnnotationType.label]
    read = {
        item.id: [
            categories[a.label].name for a in item.annotations if a.type == AnnotationType.label
        ]
        for item in dataset
    }
    if len(argv) > 2:
        target, target_format = argv[2], argv[3]
        changes = dict(change.split("=", 1) for change in argv[4:])
        for item in list(dataset):
            if item.id in changes:
                index = categories.find(changes[item.id])[0]
                others = [a for a in item.annotations if a.type != AnnotationType.label]
                dataset.put(item.wrap(annotations=[*others, Label(index)]))
        dataset.export(target, target_format, save_media=False)
    print(json.dumps(read))


if __name__ == "__main__":
    main(sys.argv[1:])
