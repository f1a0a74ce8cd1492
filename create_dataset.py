"""Same as `lstm-se prepare`: python create_dataset.py --config conf/config.yaml [key=value ...]"""

import sys

from lstm_se.cli import main

if __name__ == "__main__":
    sys.exit(main(["prepare", *sys.argv[1:]]))
