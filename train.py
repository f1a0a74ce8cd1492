"""Same as `lstm-se train`: python train.py --config conf/config.yaml [key=value ...]"""

import sys

from lstm_se.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
