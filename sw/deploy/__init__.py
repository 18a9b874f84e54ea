"""`make deploy`: a trained network (an export folder of delay_training) onto a board.

derive.py   what the network fixes and what the board chooses (word packing, learning engine,
            core clock, UART rate, identity)
estimate.py resource estimate before synthesis (memories from the elaborated RTLIL, logic from a
            model calibrated on measured builds) and the fit check with its alternatives
cli.py      `python -m deploy EXPORT --board B`: fit check, repacked image, bitstream build with
            its stages on screen, report, programming
"""
