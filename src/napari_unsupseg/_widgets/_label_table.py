"""The measurement table of the inspect widget: one sortable row per label.

Cells hold numbers (not text), so a click on a header sorts 10 after 9. Each row
remembers its label id, so selection works in label ids whatever the sort order.
"""

from __future__ import annotations

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem


class LabelTable(QTableWidget):
    """Rows of :func:`napari_unsupseg.measure`; emits the selected label ids."""

    labels_selected = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        self.setMinimumHeight(180)
        self.verticalHeader().setVisible(False)
        self._quiet = False
        self.itemSelectionChanged.connect(self._emit_selection)

    def fill(self, rows: list[dict]) -> None:
        """Show ``rows``, keeping the sort column and the labels still present selected."""
        selected = self.selected_labels()
        header = self.horizontalHeader()
        column, order = header.sortIndicatorSection(), header.sortIndicatorOrder()
        columns = list(rows[0]) if rows else []
        self._quiet = True
        self.setSortingEnabled(False)
        self.clear()
        self.setColumnCount(len(columns))
        self.setRowCount(len(rows))
        self.setHorizontalHeaderLabels(columns)
        for r, row in enumerate(rows):
            for c, name in enumerate(columns):
                value = row[name]
                item = QTableWidgetItem()
                item.setData(Qt.ItemDataRole.DisplayRole, _shown(value))
                item.setData(Qt.ItemDataRole.UserRole, row["label"])
                self.setItem(r, c, item)
        self.setSortingEnabled(True)
        if 0 <= column < len(columns):
            self.sortItems(column, order)
        self.resizeColumnsToContents()
        self._quiet = False
        self.select_labels(selected)

    def column_names(self) -> list[str]:
        return [self.horizontalHeaderItem(c).text() for c in range(self.columnCount())]

    def label_at(self, row: int) -> int:
        return int(self.item(row, 0).data(Qt.ItemDataRole.UserRole))

    def labels_in_order(self) -> list[int]:
        """The label ids from the top row down (as sorted now)."""
        return [self.label_at(r) for r in range(self.rowCount())]

    def selected_labels(self) -> list[int]:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [self.label_at(r) for r in rows]

    def select_labels(self, ids) -> None:
        """Select the rows of ``ids`` (others deselected), scrolled into view."""
        wanted = {int(i) for i in ids}
        self._quiet = True
        self.clearSelection()
        model, flags = self.selectionModel(), _select_rows()
        first = None
        for r in range(self.rowCount()):
            if self.label_at(r) in wanted:
                model.select(self.model().index(r, 0), flags)
                first = r if first is None else first
        self._quiet = False
        if first is not None:
            self.scrollToItem(self.item(first, 0))
        self._emit_selection()

    def sort_by(self, column: str, descending: bool = False) -> None:
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        self.sortItems(self.column_names().index(column), order)

    def _emit_selection(self) -> None:
        if not self._quiet:
            self.labels_selected.emit(self.selected_labels())


def _select_rows():
    from qtpy.QtCore import QItemSelectionModel

    flag = QItemSelectionModel.SelectionFlag
    return flag.Select | flag.Rows


def _shown(value):
    """Floats to 4 significant decimals for reading; the CSV keeps every digit."""
    return float(f"{value:.6g}") if isinstance(value, float) else value
