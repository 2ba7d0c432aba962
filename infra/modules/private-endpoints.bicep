// Private endpoints (parameter privateNetworking), each registered in its private DNS zone.
param location string
param tags object
param subnetId string
@description('[{name, resourceId, groupId, zoneId}]: groupId blob | queue | table | vault.')
param endpoints array

resource endpoint 'Microsoft.Network/privateEndpoints@2025-07-01' = [for e in endpoints: {
  name: e.name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: e.name
        properties: {
          privateLinkServiceId: e.resourceId
          groupIds: [
            e.groupId
          ]
        }
      }
    ]
  }
}]

resource dns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2025-07-01' = [for (e, i) in endpoints: {
  parent: endpoint[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: e.groupId
        properties: {
          privateDnsZoneId: e.zoneId
        }
      }
    ]
  }
}]
